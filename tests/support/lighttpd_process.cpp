#include "lighttpd_process.hpp"

#include <stdexcept>

#include "nginx_process.hpp"  // fill_template

namespace fcgihost::test {

lighttpd_process::lighttpd_process(const std::filesystem::path& config_template,
                                   std::map<std::string, std::string> values) {
  values["PREFIX"] = dir_.path().string();
  values["HTTP_SOCKET"] = http_socket().string();
  write_file(dir_ / "lighttpd.conf", fill_template(read_file(config_template), values));
  process_ = std::make_unique<child_process>(
      std::vector<std::string>{FCGIHOST_LIGHTTPD, "-D", "-f", (dir_ / "lighttpd.conf").string()}, dir_ / "stdout",
      dir_ / "stderr");
  if (!wait_for_unix_socket(http_socket(), *process_))
    throw std::runtime_error("lighttpd did not start:\n" + read_file(dir_ / "stderr") + error_log());
}

}  // namespace fcgihost::test
