// A real Apache 2.4 for a test, configured from examples/apache (its @...@
// placeholders filled, PREFIX, PORT, USER and GROUP by this class), on a
// free port of 127.0.0.1 (Apache cannot listen on a unix socket).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "child_process.hpp"

namespace fcgihost::test {

class apache_process {
 public:
  apache_process(const std::filesystem::path& config_template, std::map<std::string, std::string> values);
  std::uint16_t port() const { return port_; }
  std::string error_log() const { return read_file(dir_ / "error.log"); }

 private:
  temp_dir dir_;
  std::uint16_t port_;
  std::unique_ptr<child_process> process_;
};

}  // namespace fcgihost::test
