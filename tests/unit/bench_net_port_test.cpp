// freeTcpPorts: every port of the range it returns can be listened on; bad input is refused.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include <gtest/gtest.h>

#include "bench/net_port.h"

namespace paddock::bench {
namespace {

// A socket listening on 127.0.0.1:port, or -1.
int listenOn(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(BenchNetPort, ThePortsItReturnsCanAllBeBound) {
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

TEST(BenchNetPort, BadArgumentsAreRefused) {
  EXPECT_EQ(freeTcpPorts("localhost").error().code, Errc::invalid_argument);
  EXPECT_EQ(freeTcpPorts("127.0.0.1", 0).error().code, Errc::invalid_argument);
  auto nowhere = freeTcpPorts("192.0.2.1");  // TEST-NET-1: not an address of this host
  ASSERT_FALSE(nowhere);
  EXPECT_EQ(nowhere.error().code, Errc::unavailable);
  EXPECT_NE(nowhere.error().message.find("192.0.2.1"), std::string::npos);
}

}  // namespace
}  // namespace paddock::bench
