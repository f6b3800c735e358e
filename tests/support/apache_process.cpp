#include "apache_process.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "nginx_process.hpp"  // fill_template, free_tcp_port, http_request

namespace fcgihost::test {

apache_process::apache_process(const std::filesystem::path& config_template,
                               std::map<std::string, std::string> values)
    : port_(free_tcp_port()) {
  // Apache refuses to serve as root: as root its children run as www-data,
  // who must be able to enter this folder.
  const bool root = ::geteuid() == 0;
  const passwd* user = root ? ::getpwnam("www-data") : ::getpwuid(::geteuid());
  const group* group_entry = user ? ::getgrgid(user->pw_gid) : nullptr;
  if (!user || !group_entry) throw std::runtime_error("no user for Apache's children");
  ::chmod(dir_.path().c_str(), 0755);
  values["PREFIX"] = dir_.path().string();
  values["PORT"] = std::to_string(port_);
  values["USER"] = user->pw_name;
  values["GROUP"] = group_entry->gr_name;
  write_file(dir_ / "apache2.conf", fill_template(read_file(config_template), values));
  process_ = std::make_unique<child_process>(
      std::vector<std::string>{FCGIHOST_APACHE, "-f", (dir_ / "apache2.conf").string(), "-DFOREGROUND"},
      dir_ / "stdout", dir_ / "stderr");
  // Up when it answers (its port was free a moment ago; it listens soon).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (true) {
    try {
      http_request(port_, "GET", "/");
      return;
    } catch (const std::exception&) {
      if (!process_->running() || std::chrono::steady_clock::now() > give_up)
        throw std::runtime_error("Apache did not start:\n" + read_file(dir_ / "stderr") + error_log());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace fcgihost::test
