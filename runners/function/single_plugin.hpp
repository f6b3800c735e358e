// A worker's handler lookup: the one plugin it was started with, loaded once.
#pragma once

#include <memory>
#include <string>

#include <runners/function/handler_lookup.hpp>
#include <runners/function/plugin_library.hpp>

namespace fcgihost::runners {

class single_plugin final : public handler_lookup {
 public:
  single_plugin(std::string name, std::string file_for_logs, std::shared_ptr<const loaded_plugin> plugin)
      : name_(std::move(name)), file_(std::move(file_for_logs)), plugin_(std::move(plugin)) {}

  lookup_result find_loaded(std::string_view plugin, std::string_view handler) override {
    lookup_result found;
    const auto entry = plugin == name_ ? plugin_->handlers.find(handler) : plugin_->handlers.end();
    if (entry == plugin_->handlers.end()) {
      found.reason = "plugin '" + name_ + "' has no handler '" + std::string(handler) + "'";
      return found;
    }
    found.result = lookup_result::outcome::found;
    found.handler = {plugin_, entry->second.function, &entry->second.speed, file_, name_, std::string(handler)};
    return found;
  }
  lookup_result load_and_find(std::string_view plugin, std::string_view handler) override {
    return find_loaded(plugin, handler);
  }

 private:
  std::string name_;
  std::string file_;
  std::shared_ptr<const loaded_plugin> plugin_;
};

}  // namespace fcgihost::runners
