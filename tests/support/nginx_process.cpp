#include "nginx_process.hpp"

#include <pwd.h>
#include <unistd.h>

#include <stdexcept>

namespace fcgihost::test {

namespace fs = std::filesystem;

namespace {

std::string current_user() {
  const passwd* entry = ::getpwuid(::geteuid());
  return entry ? entry->pw_name : "root";
}

}  // namespace

std::string fill_template(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values) {
    const std::string placeholder = "@" + name + "@";
    for (auto at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + value.size()))
      text.replace(at, placeholder.size(), value);
  }
  return text;
}

nginx_process::nginx_process(const fs::path& host_socket, const fs::path& scripts_dir, std::uint16_t tcp_port,
                             const fs::path& config_template) {
  // The template has one listen line: a second address goes in after it.
  std::string listen = "unix:" + http_socket().string();
  if (tcp_port != 0) listen += ";\n    listen 127.0.0.1:" + std::to_string(tcp_port);
  const std::string config = fill_template(read_file(config_template),
                                           {{"PREFIX", dir_.path().string()},
                                            {"SOCKET", host_socket.string()},
                                            {"SCRIPTS", scripts_dir.string()},
                                            {"LISTEN", listen},
                                            {"USER", current_user()}});
  write_file(dir_ / "nginx.conf", config);
  process_ = std::make_unique<child_process>(
      std::vector<std::string>{FCGIHOST_NGINX, "-p", dir_.path().string(), "-c", (dir_ / "nginx.conf").string(), "-g",
                               "daemon off;"},
      dir_ / "stdout", dir_ / "stderr");
  if (!wait_for_unix_socket(http_socket(), *process_))
    throw std::runtime_error("nginx did not start:\n" + read_file(dir_ / "stderr") + read_file(dir_ / "error.log"));
}

}  // namespace fcgihost::test
