#include "bench/tools/console_session.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace paddock::bench {

Result<std::string> runGuestWorkload(const ConsoleCommand& console, const std::string& workload,
                                     const std::string& profile, std::chrono::seconds timeout,
                                     const std::string& peer) {
  std::string env = peer.empty() ? "" : "PADDOCK_BENCH_PEER=" + peer + " ";
  auto out = console(fmt::format("{}/usr/local/lib/paddock-bench/xen-2004.sh {} {} 2>/tmp/err", env,
                                 workload, profile),
                     timeout);
  if (!out) return out.error();
  if (out->status == 0) return out->output;
  auto err = console("tail -1 /tmp/err", std::chrono::seconds(30));
  std::string why = err ? err->output : "";
  while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
  return makeError(Errc::internal, fmt::format("exit {}: {}", out->status, why));
}

namespace {

class UnixConsole : public ConsoleLink {
 public:
  explicit UnixConsole(int fd) : fd_(fd) {}
  ~UnixConsole() override { close(); }
  bool send(std::string_view bytes) override {
    while (!bytes.empty()) {
      ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  std::optional<std::string> receive(std::chrono::steady_clock::time_point until) override {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      until - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0 || fd_ < 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      return std::string(buf, static_cast<size_t>(n));
    }
  }
  void close() override {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

}  // namespace

Result<std::unique_ptr<ConsoleLink>> unixConsole(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(Errc::internal, std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    return makeError(Errc::invalid_argument, "console socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    return makeError(Errc::unavailable, fmt::format("{}: {}", path, std::strerror(e)));
  }
  return std::unique_ptr<ConsoleLink>(std::make_unique<UnixConsole>(fd));
}

}  // namespace paddock::bench
