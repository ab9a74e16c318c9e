// freeTcpPorts: every port of the range it returns can be listened on (IPv4 and IPv6); bad
// input is refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include <gtest/gtest.h>

#include "common/net_port.h"

namespace paddock {
namespace {

// A socket listening on the loopback address (IPv4 or IPv6) at port, or -1.
int listenOn(int port, bool v6 = false) {
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage s{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&s);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&s);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&s), len) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(NetPort, ThePortsItReturnsCanAllBeBound) {
  for (int count : {1, 2, 4}) {
    auto port = freeTcpPorts("127.0.0.1", count);
    ASSERT_TRUE(port) << port.error().message;
    std::vector<int> fds;
    for (int i = 0; i < count; ++i) fds.push_back(listenOn(*port + i));
    for (int i = 0; i < count; ++i) EXPECT_GE(fds[i], 0) << "port " << *port + i;
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }
}

TEST(NetPort, AnIpv6AddressGetsPortsOfItsOwn) {
  int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool haveV6 = probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  if (probe >= 0) close(probe);
  if (!haveV6) GTEST_SKIP() << "SKIPPED: this host has no IPv6 loopback (::1)";
  auto port = freeTcpPorts("::1", 2);
  ASSERT_TRUE(port) << port.error().message;
  int first = listenOn(*port, true);
  int second = listenOn(*port + 1, true);
  EXPECT_GE(first, 0);
  EXPECT_GE(second, 0);
  for (int fd : {first, second})
    if (fd >= 0) close(fd);
}

TEST(NetPort, BadArgumentsAreRefused) {
  auto name = freeTcpPorts("localhost");
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().code, Errc::invalid_argument) << "a name, not an address";
  EXPECT_NE(name.error().message.find("'localhost' is not an IP address"), std::string::npos);
  EXPECT_EQ(freeTcpPorts("127.0.0.1", 0).error().code, Errc::invalid_argument);
  auto nowhere = freeTcpPorts("192.0.2.1");  // TEST-NET-1: not an address of this host
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error().code, Errc::unavailable);
  EXPECT_NE(nowhere.error().message.find("192.0.2.1"), std::string::npos);
}

}  // namespace
}  // namespace paddock
