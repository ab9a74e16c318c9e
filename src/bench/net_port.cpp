#include "bench/net_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace paddock::bench {

namespace {

// A socket bound to address:port (0: the kernel picks), or -errno.
int bound(const in_addr& address, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr = address;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

int portOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
  return ntohs(a.sin_port);
}

}  // namespace

Result<int> freeTcpPorts(const std::string& address, int count) {
  if (count < 1 || count > 16)
    return makeError(Errc::invalid_argument, fmt::format("cannot find {} free ports", count));
  in_addr ip{};
  if (inet_pton(AF_INET, address.c_str(), &ip) != 1)
    return makeError(Errc::invalid_argument, "not an IPv4 address: " + address);
  for (int attempt = 0; attempt < 50; ++attempt) {
    // The kernel's pick for the first; the rest must be free after it. All stay bound until
    // the range is known, so that no two ports of it are the same one picked twice.
    int first = bound(ip, 0);
    if (first < 0)
      return makeError(Errc::unavailable,
                       fmt::format("bind {}: {}", address, std::strerror(-first)));
    int port = portOf(first);
    std::vector<int> held{first};
    bool free = port > 0 && port + count - 1 <= 65535;
    for (int i = 1; free && i < count; ++i) {
      int fd = bound(ip, port + i);
      free = fd >= 0;
      if (free) held.push_back(fd);
    }
    for (int fd : held) ::close(fd);
    if (free) return port;
  }
  return makeError(Errc::unavailable,
                   fmt::format("no {} consecutive free TCP ports on {}", count, address));
}

}  // namespace paddock::bench
