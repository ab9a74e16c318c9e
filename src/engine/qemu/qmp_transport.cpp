#include "engine/qemu/qmp_transport.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/qemu/qmp_raw_reply.h"

namespace paddock::qmp {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using std::chrono::milliseconds;

// A line this long without a newline means the stream is not QMP any more; stop buffering it.
constexpr std::size_t kMaxLineBytes = 16 * 1024 * 1024;
constexpr milliseconds kConnectRetryInterval{20};

const char* const kClosedMessage = "QEMU monitor connection closed";

milliseconds remainingUntil(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return std::max(left, milliseconds(0));
}

// Returns true when `fd` is ready for `events` before `deadline` (errors count as ready so the
// following recv/send reports them).
bool waitReady(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    auto left = std::min<long long>(remainingUntil(deadline).count(), INT_MAX);
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return true;
  }
}

std::string errnoText(int err) {
  return std::strerror(err);
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Connects once; on failure returns the errno.
std::variant<int, Fd> connectOnce(const sockaddr_un& address) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return errno;
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0)
      return fd;
    if (errno != EINTR) return errno;
  }
}

bool retryableConnectError(int err) {
  // ENOENT: QEMU has not created the socket yet. ECONNREFUSED: stale file or not listening yet.
  // EAGAIN: listen backlog full.
  return err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
}

Result<Fd> connectWithRetry(const std::string& path, Clock::time_point deadline,
                            milliseconds timeout) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path)
    return makeError(Errc::invalid_argument,
                     fmt::format("QEMU monitor socket path '{}' is empty or too long", path));
  std::memcpy(address.sun_path, path.data(), path.size());

  for (;;) {
    auto attempt = connectOnce(address);
    if (auto* fd = std::get_if<Fd>(&attempt)) return Fd(fd->release());
    int err = std::get<int>(attempt);
    if (!retryableConnectError(err))
      return makeError(Errc::unavailable,
                       fmt::format("cannot connect to QEMU monitor {}: {}", path, errnoText(err)));
    if (Clock::now() >= deadline)
      return makeError(Errc::timeout, fmt::format("QEMU monitor {} not ready after {} ms: {}", path,
                                                  timeout.count(), errnoText(err)));
    std::this_thread::sleep_for(std::min(kConnectRetryInterval, remainingUntil(deadline)));
  }
}

// Reads until `buffer` holds a full line; returns it and leaves whatever follows in `buffer`.
Result<std::string> readFirstLine(int fd, std::string& buffer, Clock::time_point deadline,
                                  const std::string& path) {
  for (;;) {
    if (auto nl = buffer.find('\n'); nl != std::string::npos) {
      std::string line = buffer.substr(0, nl);
      buffer.erase(0, nl + 1);
      return line;
    }
    if (buffer.size() > kMaxLineBytes)
      return makeError(Errc::internal,
                       fmt::format("QEMU monitor {} sent an oversized greeting", path));
    if (!waitReady(fd, POLLIN, deadline))
      return makeError(Errc::timeout, fmt::format("no QMP greeting from {}", path));
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return makeError(Errc::unavailable,
                       fmt::format("QEMU monitor {} closed the connection before greeting", path));
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return makeError(Errc::unavailable,
                       fmt::format("reading QEMU monitor {}: {}", path, errnoText(errno)));
    }
  }
}

}  // namespace

struct QmpTransport::Shared {
  struct Pending {
    std::string command;
    bool raw = false;  // executeRaw(): wants the line, not a parsed value
    std::string line;  // set before the promise when raw
    std::promise<Result<json>> promise;
  };

  Shared(int socketFd, QmpCallbacks cbs, std::string leftover)
      : fd(socketFd), callbacks(std::move(cbs)), readBuffer(std::move(leftover)) {}
  // The fd outlives every user of it: the reader thread and any transport handle share this.
  ~Shared() { ::close(fd); }

  const int fd;
  const QmpCallbacks callbacks;
  std::string readBuffer;  // reader thread only
  std::atomic<std::uint64_t> nextId{1};
  std::mutex writeMutex;  // keeps each command's bytes contiguous on the wire

  std::mutex mutex;  // guards everything below
  std::map<std::uint64_t, std::shared_ptr<Pending>> pending;
  std::atomic<int> rawPending{0};  // raw waiters in `pending`: only then is a line pre-scanned
  bool finished = false;           // reader has exited; nothing more will be read
  bool established = false;        // handshake succeeded; a hang-up is worth reporting
  bool closing = false;            // we asked for the close; it is not a hang-up

  // Marks the close as ours and wakes the reader (shutdown makes its blocking recv return 0).
  void requestClose() {
    {
      std::lock_guard lock(mutex);
      closing = true;
    }
    ::shutdown(fd, SHUT_RDWR);
  }

  bool isClosing() {
    std::lock_guard lock(mutex);
    return closing;
  }

  // The stream is unusable (e.g. half a command was written); treat it like QEMU hanging up.
  void breakConnection() { ::shutdown(fd, SHUT_RDWR); }

  Status writeAll(const std::string& data, Clock::time_point deadline, const std::string& command);
  void readLoop();
  void handleLine(std::string_view line);
  // Hands a successful reply line to its raw waiter without parsing it into a tree; false when
  // the line is something else, or its waiter wants a parsed value.
  bool deliverRaw(std::string_view line);
  // Removes and returns the waiter for `id`, if it is still waiting. Caller holds mutex.
  std::shared_ptr<Pending> claim(std::uint64_t id);
  void finish();
};

namespace {

// Identifies the reader thread of a transport, so calls that would deadlock there are refused.
thread_local const void* tlsReaderOf = nullptr;

}  // namespace

Status QmpTransport::Shared::writeAll(const std::string& data, Clock::time_point deadline,
                                      const std::string& command) {
  std::lock_guard lock(writeMutex);
  std::size_t offset = 0;
  while (offset < data.size()) {
    ssize_t n = ::send(fd, data.data() + offset, data.size() - offset, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      offset += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return makeError(Errc::unavailable, kClosedMessage);
    if (!waitReady(fd, POLLOUT, deadline)) {
      if (offset > 0) {
        spdlog::warn("QMP {}: write timed out mid-command; dropping the monitor connection",
                     command);
        breakConnection();
      }
      return makeError(Errc::timeout,
                       fmt::format("QMP {}: monitor not accepting commands", command));
    }
  }
  return {};
}

void QmpTransport::Shared::readLoop() {
  for (;;) {
    std::size_t start = 0;
    for (std::size_t nl; (nl = readBuffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      handleLine(std::string_view(readBuffer).substr(start, nl - start));
      if (isClosing()) return;
    }
    readBuffer.erase(0, start);
    if (readBuffer.size() > kMaxLineBytes) {
      spdlog::error("QMP: {} bytes without a newline; dropping the monitor connection",
                    readBuffer.size());
      return;
    }
    char chunk[65536];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      readBuffer.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return;
    } else if (errno != EINTR) {
      // ECONNRESET is the usual way QEMU's exit shows up; it is a hang-up like EOF.
      if (errno != ECONNRESET) spdlog::warn("QMP: read failed: {}", errnoText(errno));
      return;
    }
  }
}

std::shared_ptr<QmpTransport::Shared::Pending> QmpTransport::Shared::claim(std::uint64_t id) {
  auto it = pending.find(id);
  if (it == pending.end()) return nullptr;
  auto waiter = std::move(it->second);
  pending.erase(it);
  if (waiter->raw) --rawPending;
  return waiter;
}

bool QmpTransport::Shared::deliverRaw(std::string_view line) {
  if (rawPending.load() == 0) return false;
  auto id = returnReplyId(line);
  if (!id) return false;
  std::shared_ptr<Pending> waiter;
  {
    std::lock_guard lock(mutex);
    auto it = pending.find(*id);
    if (it == pending.end() || !it->second->raw) return false;
    waiter = claim(*id);
  }
  waiter->line = std::string(line);
  waiter->promise.set_value(json());
  return true;
}

void QmpTransport::Shared::handleLine(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  if (deliverRaw(line)) return;
  auto parsed = parseMessage(line);
  if (!parsed.ok()) {
    // One bad line does not desynchronise the next: each message is self-contained.
    spdlog::warn("{}", parsed.error().message);
    return;
  }
  const Message& message = *parsed;
  if (const auto* event = std::get_if<Event>(&message)) {
    if (!callbacks.onEvent || isClosing()) return;
    try {
      callbacks.onEvent(*event);
    } catch (const std::exception& e) {
      spdlog::error("QMP event callback for {} threw: {}", event->name, e.what());
    } catch (...) {
      spdlog::error("QMP event callback for {} threw", event->name);
    }
    return;
  }
  if (std::holds_alternative<Greeting>(message)) {
    spdlog::warn("QMP: unexpected greeting in command mode; ignored");
    return;
  }

  const json& id = std::holds_alternative<Reply>(message) ? std::get<Reply>(message).id
                                                          : std::get<ErrorReply>(message).id;
  if (!id.is_number_unsigned()) {
    spdlog::warn("QMP: reply with an id we never sent ({}); ignored", id.dump());
    return;
  }
  std::shared_ptr<Pending> waiter;
  {
    std::lock_guard lock(mutex);
    waiter = claim(id.get<std::uint64_t>());
  }
  if (!waiter) {
    spdlog::debug("QMP: reply {} arrived after its command timed out; dropped", id.dump());
    return;
  }
  if (const auto* reply = std::get_if<Reply>(&message)) {
    if (waiter->raw) waiter->line = std::string(line);
    waiter->promise.set_value(reply->value);
  } else {
    const auto& error = std::get<ErrorReply>(message);
    waiter->promise.set_value(
        makeError(Errc::conflict, fmt::format("QMP {}: {}", waiter->command, error.desc)));
  }
}

void QmpTransport::Shared::finish() {
  std::map<std::uint64_t, std::shared_ptr<Pending>> orphans;
  bool reportHangUp;
  {
    std::lock_guard lock(mutex);
    finished = true;
    orphans.swap(pending);
    rawPending = 0;
    reportHangUp = established && !closing;
  }
  for (auto& [id, waiter] : orphans)
    waiter->promise.set_value(makeError(Errc::unavailable, kClosedMessage));
  if (reportHangUp && callbacks.onHangUp) {
    try {
      callbacks.onHangUp();
    } catch (...) {
      spdlog::error("QMP hang-up callback threw");
    }
  }
}

Result<std::unique_ptr<QmpTransport>> QmpTransport::connect(const std::string& socketPath,
                                                            milliseconds timeout,
                                                            QmpCallbacks callbacks) {
  const auto deadline = Clock::now() + timeout;
  auto fd = connectWithRetry(socketPath, deadline, timeout);
  if (!fd.ok()) return fd.error();

  std::string buffer;
  auto line = readFirstLine(fd->get(), buffer, deadline, socketPath);
  if (!line.ok()) return line.error();
  auto greeting = parseMessage(*line);
  if (!greeting.ok() || !std::holds_alternative<Greeting>(*greeting))
    return makeError(Errc::internal,
                     fmt::format("QEMU monitor {} did not start with a QMP greeting", socketPath));

  auto shared = std::make_shared<Shared>(fd->release(), std::move(callbacks), std::move(buffer));
  std::unique_ptr<QmpTransport> transport(
      new QmpTransport(shared, std::get<Greeting>(std::move(*greeting))));

  auto caps = transport->execute("qmp_capabilities", json::object(), remainingUntil(deadline));
  if (!caps.ok()) {
    transport->close();
    return makeError(caps.error().code, fmt::format("QMP handshake with {} failed: {}", socketPath,
                                                    caps.error().message));
  }
  {
    // Checked under the lock the reader takes on exit, so a hang-up is either reported or the
    // caller hears about it here, never neither.
    std::lock_guard lock(shared->mutex);
    if (shared->finished)
      return makeError(Errc::unavailable,
                       fmt::format("QEMU monitor {} closed during the handshake", socketPath));
    shared->established = true;
  }
  return transport;
}

QmpTransport::QmpTransport(std::shared_ptr<Shared> shared, Greeting greeting)
    : shared_(std::move(shared)), greeting_(std::move(greeting)) {
  // The thread owns a reference so it can outlive this handle (see the destructor).
  reader_ = std::thread([shared = shared_] {
    tlsReaderOf = shared.get();
    shared->readLoop();
    shared->finish();
  });
}

QmpTransport::~QmpTransport() {
  shared_->requestClose();
  if (!reader_.joinable()) return;
  if (tlsReaderOf == shared_.get()) {
    // Destroyed from one of our own callbacks: joining would wait for ourselves. The reader
    // returns from the callback, sees the close request and exits with its own reference.
    reader_.detach();
  } else {
    reader_.join();
  }
}

void QmpTransport::close() {
  shared_->requestClose();
  // From a callback the reader exits once the callback returns; the destructor joins or detaches.
  if (tlsReaderOf == shared_.get()) return;
  if (reader_.joinable()) reader_.join();
}

bool QmpTransport::connected() const {
  std::lock_guard lock(shared_->mutex);
  return !shared_->finished && !shared_->closing;
}

struct PendingReply::State {
  std::shared_ptr<QmpTransport::Shared> shared;
  std::string command;
  std::uint64_t id = 0;
  milliseconds timeout{0};
  Clock::time_point deadline;
  std::shared_ptr<QmpTransport::Shared::Pending> waiter;
  std::future<Result<json>> reply;
  std::optional<Error> failed;  // refused before anything was left waiting
  bool taken = false;

  // Drops the waiter if the reader has not claimed it; true when it was still waiting.
  bool forget() {
    std::lock_guard lock(shared->mutex);
    return shared->claim(id) != nullptr;
  }
};

PendingReply::PendingReply() = default;
PendingReply::PendingReply(PendingReply&&) noexcept = default;

PendingReply::~PendingReply() {
  if (state_ && !state_->taken && !state_->failed) state_->forget();
}

Result<json> PendingReply::get() {
  return take(nullptr);
}

Result<std::string> PendingReply::getRaw() {
  if (state_ && state_->waiter && !state_->waiter->raw)
    return makeError(Errc::internal, fmt::format("QMP {}: not submitted raw", state_->command));
  std::string line;
  auto reply = take(&line);
  if (!reply.ok()) return reply.error();
  return line;
}

Result<json> PendingReply::take(std::string* rawLine) {
  if (!state_ || state_->taken) return makeError(Errc::internal, "QMP reply taken twice");
  State& s = *state_;
  s.taken = true;
  if (s.failed) return *s.failed;
  if (s.reply.wait_until(s.deadline) == std::future_status::timeout && s.forget())
    return makeError(Errc::timeout,
                     fmt::format("QMP {}: no reply within {} ms", s.command, s.timeout.count()));
  // Either answered in time, or the reader claimed it just as we gave up: it is being set now.
  auto result = s.reply.get();
  if (result.ok() && rawLine) *rawLine = std::move(s.waiter->line);
  return result;
}

Result<json> QmpTransport::execute(const std::string& command, const json& args,
                                   milliseconds timeout) {
  return submit(command, args, timeout).get();
}

Result<std::string> QmpTransport::executeRaw(const std::string& command, const json& args,
                                             milliseconds timeout) {
  return submit(command, args, timeout, /*raw=*/true).getRaw();
}

PendingReply QmpTransport::submit(const std::string& command, const json& args,
                                  milliseconds timeout, bool raw) {
  PendingReply out;
  out.state_ = std::make_unique<PendingReply::State>();
  auto& s = *out.state_;
  s.shared = shared_;
  s.command = command;
  s.timeout = timeout;
  s.deadline = Clock::now() + timeout;
  if (tlsReaderOf == shared_.get()) {
    s.failed =
        makeError(Errc::internal,
                  fmt::format("QMP {}: execute() from a QMP callback would deadlock", command));
    return out;
  }
  s.id = shared_->nextId.fetch_add(1);
  auto line = buildCommand(command, args, s.id);
  if (!line.ok()) {
    s.failed = line.error();
    return out;
  }
  line->push_back('\n');

  s.waiter = std::make_shared<Shared::Pending>();
  s.waiter->command = command;
  s.waiter->raw = raw;
  s.reply = s.waiter->promise.get_future();
  {
    std::lock_guard lock(shared_->mutex);
    if (shared_->finished || shared_->closing) {
      s.failed = makeError(Errc::unavailable, kClosedMessage);
      return out;
    }
    shared_->pending.emplace(s.id, s.waiter);
    if (raw) ++shared_->rawPending;
  }
  if (auto written = shared_->writeAll(*line, s.deadline, command); !written.ok()) {
    s.forget();
    s.failed = written.error();
  }
  return out;
}

}  // namespace paddock::qmp
