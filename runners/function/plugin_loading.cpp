#include "plugin_loading.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace fcgihost::runners {

namespace asio = boost::asio;

asio::awaitable<lookup_result> load_on(asio::thread_pool& loader, handler_lookup& lookup, std::string plugin,
                                       std::string handler) {
  // Named, not a temporary inside the co_await: g++ 12 would destroy it twice.
  auto load = [&lookup, plugin = std::move(plugin), handler = std::move(handler)]() -> asio::awaitable<lookup_result> {
    co_return lookup.load_and_find(plugin, handler);
  };
  auto loaded = asio::co_spawn(loader.get_executor(), std::move(load),
                               asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
  co_return co_await std::move(loaded);
}

}  // namespace fcgihost::runners
