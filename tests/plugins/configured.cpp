// A plugin with an init and a shutdown, configured by [plugin.configured]:
//   greeting      what greet says (default "Hello")
//   refuse        if set, init fails with this message
//   journal_file  where init writes "init PID GREETING" and shutdown
//                 "shutdown PID GREETING", one line each
//   shutdown_seconds  how long shutdown then sleeps (a plugin slow to leave)
#include <fcgihost/plugin.hpp>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <unistd.h>

namespace {

std::string greeting = "unset";
std::string journal_file;
double shutdown_seconds = 0;

void note(const std::string& what) {
  if (!journal_file.empty()) std::ofstream(journal_file, std::ios::app) << what << " " << ::getpid() << " " << greeting << "\n";
}

void start(const fcgihost::plugin_config& config) {
  journal_file = config.value_or("journal_file", "");
  greeting = config.value_or("greeting", "Hello");
  shutdown_seconds = std::stod(std::string(config.value_or("shutdown_seconds", "0")));
  note("init");
  if (const auto refusal = config.get("refuse")) throw std::runtime_error(std::string(*refusal));
}

void stop() {
  note("shutdown");
  std::this_thread::sleep_for(std::chrono::duration<double>(shutdown_seconds));
}

int greet(fcgihost::request& r) {
  r.respond(200, "text/plain");
  r.out() << greeting << ", " << r.query().value_or("name", "world") << "!\n";
  return 0;
}

}  // namespace

FCGIHOST_INIT(start)
FCGIHOST_SHUTDOWN(stop)
FCGIHOST_HANDLER(greet)
