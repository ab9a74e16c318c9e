#include "bench/tools/iperf_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/files.h"
#include "common/subprocess.h"

namespace paddock::bench {

namespace {}  // namespace

Result<int> freeTcpPort(const std::string& address) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
    return makeError(Errc::invalid_argument, "not an IPv4 address: " + address);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(Errc::internal, std::string("socket: ") + std::strerror(errno));
  socklen_t len = sizeof a;
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  int e = errno;
  if (rc == 0) rc = ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  if (rc != 0)
    return makeError(Errc::unavailable, fmt::format("bind {}: {}", address, std::strerror(e)));
  return static_cast<int>(ntohs(a.sin_port));
}

namespace {

// Whether this namespace has a TCP socket listening on `port` (/proc/net/tcp, state 0A).
bool listening(int port) {
  std::ifstream f("/proc/net/tcp");
  std::string line;
  std::getline(f, line);
  std::string want = fmt::format(":{:04X}", port);
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state;
    in >> slot >> local >> remote >> state;
    if (state == "0A" && local.size() >= want.size() &&
        local.compare(local.size() - want.size(), want.size(), want) == 0)
      return true;
  }
  return false;
}

}  // namespace

Status IperfServer::start(const std::string& address, const std::string& logPath) {
  stop();
  auto port = freeTcpPort(address);
  if (!port) return port.error();
  auto pid = spawnBound({"iperf3", "-s", "-B", address, "-p", std::to_string(*port)}, logPath);
  if (!pid) return pid.error();
  pid_ = *pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!listening(*port)) {
    if (::waitpid(pid_, nullptr, WNOHANG) != 0 || std::chrono::steady_clock::now() > deadline) {
      auto log = readFile(logPath);
      stop();
      return makeError(Errc::unavailable, fmt::format("iperf3 -s on {}:{} did not start: {}",
                                                      address, *port, log ? *log : "no log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  address_ = address;
  port_ = *port;
  return {};
}

std::string IperfServer::endpoint() const {
  return port_ ? fmt::format("{}:{}", address_, port_) : "";
}

void IperfServer::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  port_ = 0;
  address_.clear();
}

}  // namespace paddock::bench
