#include "common/net_port.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace paddock {

namespace {

void setPort(sockaddr_storage& a, int port) {
  auto p = htons(static_cast<std::uint16_t>(port));
  if (a.ss_family == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&a)->sin6_port = p;
  else
    reinterpret_cast<sockaddr_in*>(&a)->sin_port = p;
}

int portOf(const sockaddr_storage& a) {
  return ntohs(a.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port
                                       : reinterpret_cast<const sockaddr_in*>(&a)->sin_port);
}

// A socket bound to the address at `port` (0: the kernel picks), or -errno.
int bound(sockaddr_storage a, socklen_t len, int port) {
  int fd = ::socket(a.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  setPort(a, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), len) != 0) {
    int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

int boundPort(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
  return portOf(a);
}

}  // namespace

Result<int> freeTcpPorts(const std::string& address, int count) {
  if (count < 1 || count > 16)
    return makeError(Errc::invalid_argument, fmt::format("cannot find {} free ports", count));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(address.c_str(), "0", &hints, &found) != 0 || !found)
    return makeError(Errc::invalid_argument, fmt::format("'{}' is not an IP address", address));
  sockaddr_storage where{};
  socklen_t len = found->ai_addrlen;
  std::memcpy(&where, found->ai_addr, len);
  freeaddrinfo(found);
  for (int attempt = 0; attempt < 50; ++attempt) {
    // The kernel's pick for the first; the rest must be free after it. All stay bound until
    // the range is known, so that no two ports of it are the same one picked twice.
    int first = bound(where, len, 0);
    if (first < 0)
      return makeError(Errc::unavailable,
                       fmt::format("cannot listen on {}: {}", address, std::strerror(-first)));
    int port = boundPort(first);
    std::vector<int> held{first};
    bool free = port > 0 && port + count - 1 <= 65535;
    for (int i = 1; free && i < count; ++i) {
      int fd = bound(where, len, port + i);
      free = fd >= 0;
      if (free) held.push_back(fd);
    }
    for (int fd : held) ::close(fd);
    if (free) return port;
  }
  return makeError(Errc::unavailable,
                   fmt::format("no {} consecutive free TCP ports on {}", count, address));
}

}  // namespace paddock
