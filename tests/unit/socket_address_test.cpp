#include <fcgihost/protocol/socket_address.hpp>

#include <gtest/gtest.h>

namespace fcgihost::protocol {
namespace {

TEST(SocketAddress, ParsesEveryForm) {
  std::string why;
  auto unix_address = parse_socket_address("unix:/run/fcgi.sock", why);
  ASSERT_TRUE(unix_address);
  EXPECT_EQ(unix_address->type, socket_address::kind::unix_path);
  EXPECT_EQ(unix_address->path, "/run/fcgi.sock");

  auto tcp = parse_socket_address("tcp:127.0.0.1:9000", why);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 9000);

  auto v6 = parse_socket_address("tcp:[::1]:9001", why);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9001);
  EXPECT_EQ(v6->to_string(), "tcp:[::1]:9001");

  auto fd = parse_socket_address("fd:3", why);
  ASSERT_TRUE(fd);
  EXPECT_EQ(fd->fd, 3);
}

TEST(SocketAddress, RejectsMalformedAddressesWithAReason) {
  for (const char* bad : {"", "unix:", "tcp:9000", "tcp::9000", "tcp:host:port", "tcp:host:65536", "tcp:[::1]9000",
                          "tcp:[::1", "fd:", "fd:-1", "fd:x", "http://x",
                          // found by the fuzzer: unbracketed colons and stray brackets
                          "tcp:]::1]:9001", "tcp:::1:9000", "tcp:[[::1]]:9000", "tcp:[]:9000", "tcp:a]b:1"}) {
    std::string why;
    EXPECT_FALSE(parse_socket_address(bad, why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

}  // namespace
}  // namespace fcgihost::protocol
