// A real lighttpd for a test, configured from a template of examples/lighttpd
// (its @...@ placeholders filled, PREFIX and HTTP_SOCKET by this class),
// listening on a unix socket of its own. Ask it with http_request().
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "child_process.hpp"

namespace fcgihost::test {

class lighttpd_process {
 public:
  lighttpd_process(const std::filesystem::path& config_template, std::map<std::string, std::string> values);
  std::filesystem::path http_socket() const { return dir_ / "http.sock"; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::string error_log() const { return read_file(dir_ / "error.log"); }
  child_process& process() { return *process_; }

 private:
  temp_dir dir_;
  std::unique_ptr<child_process> process_;
};

}  // namespace fcgihost::test
