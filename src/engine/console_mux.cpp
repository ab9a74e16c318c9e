#include "engine/console_mux.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

namespace paddock {

namespace {

int connectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    close(fd);
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<ConsoleMux>> ConsoleMux::open(Options options,
                                                     std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int fd;
  while ((fd = connectUnix(options.socketPath)) < 0) {
    if (std::chrono::steady_clock::now() > deadline)
      return makeError(Errc::unavailable, fmt::format("cannot connect to console {}: {}",
                                                      options.socketPath, strerror(errno)));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::unique_ptr<ConsoleMux>(new ConsoleMux(std::move(options), fd));
}

ConsoleMux::ConsoleMux(Options options, int fd) : options_(std::move(options)), fd_(fd) {
  logFd_ = ::open(options_.logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  struct stat st {};
  if (logFd_ >= 0 && fstat(logFd_, &st) == 0) logSize_ = static_cast<size_t>(st.st_size);
  reader_ = std::thread([this] { readLoop(); });
}

ConsoleMux::~ConsoleMux() {
  shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  close(fd_);
  if (logFd_ >= 0) close(logFd_);
}

void ConsoleMux::readLoop() {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view bytes(buf, static_cast<size_t>(n));
    scanLines(bytes);
    std::lock_guard lock(mutex_);
    appendLog(bytes);
    for (auto& [id, reader] : readers_) reader(bytes);
  }
  std::lock_guard lock(mutex_);
  for (auto& [id, reader] : readers_) reader(std::string_view());
}

void ConsoleMux::appendLog(std::string_view bytes) {
  if (logFd_ < 0) return;
  if (logSize_ + bytes.size() > options_.logLimitBytes) {
    std::string old = options_.logPath + ".1";
    rename(options_.logPath.c_str(), old.c_str());
    close(logFd_);
    logFd_ =
        ::open(options_.logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
    logSize_ = 0;
    if (logFd_ < 0) return;
  }
  if (::write(logFd_, bytes.data(), bytes.size()) > 0) logSize_ += bytes.size();
}

void ConsoleMux::scanLines(std::string_view bytes) {
  if (readySeen_) return;
  partialLine_.append(bytes);
  size_t pos;
  while ((pos = partialLine_.find('\n')) != std::string::npos) {
    std::string line = partialLine_.substr(0, pos);
    partialLine_.erase(0, pos + 1);
    while (!line.empty() && (line.back() == '\r')) line.pop_back();
    auto at = line.find(kReadyMarker);
    if (at != std::string::npos && !readySeen_.exchange(true)) {
      partialLine_.clear();
      if (options_.onReady) options_.onReady(line.substr(at));
      return;
    }
  }
  if (partialLine_.size() > 4096) partialLine_.erase(0, partialLine_.size() - 4096);
}

int ConsoleMux::addReader(Reader reader) {
  std::lock_guard lock(mutex_);
  int id = nextId_++;
  readers_[id] = std::move(reader);
  return id;
}

void ConsoleMux::removeReader(int id) {
  std::lock_guard lock(mutex_);
  readers_.erase(id);
  if (writerId_ == id) writerId_ = 0;
}

bool ConsoleMux::claimWriter(int readerId) {
  std::lock_guard lock(mutex_);
  if (writerId_ != 0 && writerId_ != readerId) return false;
  writerId_ = readerId;
  return true;
}

void ConsoleMux::releaseWriter(int readerId) {
  std::lock_guard lock(mutex_);
  if (writerId_ == readerId) writerId_ = 0;
}

Status ConsoleMux::write(int readerId, std::string_view bytes) {
  {
    std::lock_guard lock(mutex_);
    if (writerId_ != readerId)
      return makeError(Errc::conflict, "another client holds the console's write access");
  }
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return makeError(Errc::unavailable, "the VM's console is closed");
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace paddock
