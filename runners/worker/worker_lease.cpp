#include <runners/worker/worker_pool_internals.hpp>

namespace fcgihost::runners {


worker_lease::worker_lease(std::shared_ptr<worker_pool> pool, std::shared_ptr<worker_slot> slot, std::string handler,
                           bool counted_slow)
    : pool_(std::move(pool)), slot_(std::move(slot)), handler_(std::move(handler)), counted_slow_(counted_slow) {}

worker_lease& worker_lease::operator=(worker_lease&& other) noexcept {
  if (this != &other) {
    if (slot_) pool_->lease_ended(std::move(slot_), handler_, counted_slow_, worker_pool::lease_end::broken);
    pool_ = std::move(other.pool_);
    slot_ = std::move(other.slot_);
    handler_ = std::move(other.handler_);
    counted_slow_ = other.counted_slow_;
  }
  return *this;
}

worker_lease::~worker_lease() {
  if (slot_) pool_->lease_ended(std::move(slot_), handler_, counted_slow_, worker_pool::lease_end::broken);
}

worker_link& worker_lease::link() { return *slot_->link; }
const std::string& worker_lease::plugin() const { return pool_->plugin(); }

void worker_lease::finished(std::int64_t run_us) {
  if (slot_) pool_->lease_ended(std::move(slot_), handler_, counted_slow_, worker_pool::lease_end::finished, run_us);
  slot_.reset();
}

void worker_lease::unused() {
  if (slot_) pool_->lease_ended(std::move(slot_), handler_, counted_slow_, worker_pool::lease_end::unused);
  slot_.reset();
}

void worker_lease::condemn() {
  if (slot_) pool_->lease_condemned(slot_);
}

}  // namespace fcgihost::runners
