#include "bench/tools/iperf_server.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "common/files.h"
#include "common/net_port.h"
#include "common/subprocess.h"

namespace paddock::bench {

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
  auto port = freeTcpPorts(address);
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
