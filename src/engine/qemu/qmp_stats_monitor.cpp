#include "engine/qemu/qmp_stats_monitor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/qemu/qmp_raw_reply.h"

namespace paddock::qmp {

namespace {

// A line this long without a newline means the stream is not QMP any more.
constexpr std::size_t kMaxLineBytes = 16 * 1024 * 1024;

// id 0 is the capabilities handshake; commands count from 1.
constexpr std::uint64_t kHandshakeId = 0;

}  // namespace

StatsMonitor::StatsMonitor(std::string socketPath) : path_(std::move(socketPath)) {}

StatsMonitor::~StatsMonitor() {
  disconnect();
}

void StatsMonitor::disconnect() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buffer_.clear();
  asked_ = 0;
}

Status StatsMonitor::ask(const std::string& command) {
  std::string out;
  if (fd_ < 0) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof(addr.sun_path))
      return makeError(Errc::invalid_argument, "QMP socket path too long: " + path_);
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return makeError(Errc::internal, fmt::format("socket: {}", strerror(errno)));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      int err = errno;
      close(fd);
      return makeError(err == ENOENT ? Errc::not_found : Errc::unavailable,
                       fmt::format("QMP {}: {}", path_, strerror(err)));
    }
    fd_ = fd;
    out = fmt::format("{{\"execute\":\"qmp_capabilities\",\"id\":{}}}\r\n", kHandshakeId);
  } else if (asked_ != 0) {
    disconnect();  // the last reply was never taken: start clean rather than mismatch
    return ask(command);
  }
  asked_ = nextId_++;
  command_ = command;
  out += fmt::format("{{\"execute\":\"{}\",\"id\":{}}}\r\n", command, asked_);
  // A few dozen bytes into an empty socket buffer: a short or refused write means QEMU is not
  // reading its monitor.
  ssize_t n = send(fd_, out.data(), out.size(), MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(out.size())) {
    std::string why = n < 0 ? strerror(errno) : "short write";
    disconnect();
    return makeError(Errc::unavailable, fmt::format("QMP {}: {}", command, why));
  }
  return {};
}

bool StatsMonitor::nextLine(std::string& line) {
  auto end = buffer_.find('\n');
  if (end == std::string::npos) return false;
  line.assign(buffer_, 0, end);
  buffer_.erase(0, end + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

Result<std::string> StatsMonitor::take(Clock::time_point deadline) {
  if (fd_ < 0 || asked_ == 0)
    return makeError(Errc::internal, "StatsMonitor::take without a command asked");
  std::string line;
  for (;;) {
    while (nextLine(line)) {
      if (auto id = returnReplyId(line)) {
        if (*id == asked_) {
          asked_ = 0;
          return line;
        }
        continue;  // the handshake's {"return": {}}
      }
      // An event, the greeting or an error reply: only the last needs a tree.
      if (line.find("\"error\"") == std::string::npos) continue;
      auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object() || !j.contains("error")) continue;
      std::uint64_t id = j.value("id", kHandshakeId);
      std::string desc = j["error"].value("desc", "error");
      if (id != asked_ && id != kHandshakeId) continue;
      if (id == kHandshakeId) disconnect();
      asked_ = 0;  // replies come in order: the connection stays usable
      return makeError(Errc::conflict, fmt::format("QMP {}: {}", command_, desc));
    }
    char chunk[16384];
    ssize_t n = read(fd_, chunk, sizeof(chunk));
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      if (buffer_.size() > kMaxLineBytes) {
        disconnect();
        return makeError(Errc::internal, "QMP stream without line breaks");
      }
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      disconnect();
      return makeError(Errc::unavailable, "QEMU monitor connection closed");
    }
    if (errno == EINTR) continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      disconnect();
      return makeError(Errc::timeout, fmt::format("QMP {}: no reply in time", command_));
    }
    pollfd p{fd_, POLLIN, 0};
    poll(&p, 1, static_cast<int>(left.count()) + 1);
  }
}

}  // namespace paddock::qmp
