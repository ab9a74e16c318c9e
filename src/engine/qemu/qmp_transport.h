// One connection to a QEMU QMP socket: handshake, command/reply matching and event delivery.
//
// Threading rules:
//  - execute() is safe from any number of threads at once; commands are matched to replies by id.
//  - Callbacks run on the transport's reader thread with no transport lock held, one at a time
//    and in wire order. A callback must not block for long: replies are not read while it runs.
//  - execute() called from a callback returns Errc::internal immediately instead of deadlocking
//    (the reply could only be read by the thread that is waiting for it). Hand the work to
//    another thread instead.
//  - close() (or destroying the transport) from inside a callback is allowed: the reader thread
//    finishes on its own after the callback returns.
//  - Elsewhere, close() and the destructor wait for a running callback to return, so do not call
//    them while holding a lock that a callback takes.
//
// Hang-up rule: onHangUp runs at most once, and only when the connection is lost from the other
// side (EOF, socket error, protocol breakage) after connect() succeeded. It does not run for a
// close() we initiated, so "hang-up" always means "QEMU went away". It may run before connect()
// has returned to its caller if QEMU dies right after the handshake.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "engine/qemu/qmp_messages.h"

namespace paddock::qmp {

// Given to connect() so that no event sent right after the handshake is missed.
struct QmpCallbacks {
  std::function<void(const Event&)> onEvent;
  std::function<void()> onHangUp;
};

class QmpTransport;

// A command on the wire whose reply has not been taken yet (QmpTransport::submit): lets a caller
// send to many monitors first and collect afterwards, so it waits once for all the replies
// instead of once per monitor. Taking the reply twice, or from a moved-from object, is an error.
// Dropping it unanswered forgets the command (a late reply is discarded).
class PendingReply {
 public:
  PendingReply();
  PendingReply(PendingReply&&) noexcept;
  PendingReply& operator=(PendingReply&&) = delete;
  ~PendingReply();

  // The reply's "return" value; errors as QmpTransport::execute().
  Result<nlohmann::json> get();
  // The reply line as QEMU sent it; only for a command submitted with `raw`.
  Result<std::string> getRaw();

 private:
  friend class QmpTransport;
  struct State;
  Result<nlohmann::json> take(std::string* line);
  std::unique_ptr<State> state_;
};

class QmpTransport {
 public:
  static constexpr std::chrono::milliseconds kDefaultCommandTimeout{10'000};

  // Connects to `socketPath`, retrying while the socket does not exist or is not yet listening
  // (QEMU creates it some time after exec), then completes the QMP handshake. `timeout` bounds
  // the whole sequence. Errors: timeout, unavailable (refused/closed), internal (bad protocol),
  // invalid_argument (path too long for a unix socket).
  static Result<std::unique_ptr<QmpTransport>> connect(const std::string& socketPath,
                                                       std::chrono::milliseconds timeout,
                                                       QmpCallbacks callbacks = {});

  ~QmpTransport();
  QmpTransport(const QmpTransport&) = delete;
  QmpTransport& operator=(const QmpTransport&) = delete;

  // Runs one command and returns its "return" value. Errors: conflict "QMP <command>: <desc>"
  // when QEMU rejects it, timeout when no reply arrives in time (a late reply is discarded),
  // unavailable "QEMU monitor connection closed" when the connection is or becomes closed.
  Result<nlohmann::json> execute(const std::string& command, const nlohmann::json& args = {},
                                 std::chrono::milliseconds timeout = kDefaultCommandTimeout);

  // Like execute(), but the answer is the reply line as QEMU sent it ({"return": ..., "id": N}),
  // for a caller that parses it faster itself (qmp_raw_reply.h): no JSON tree is built.
  Result<std::string> executeRaw(const std::string& command, const nlohmann::json& args = {},
                                 std::chrono::milliseconds timeout = kDefaultCommandTimeout);

  // Sends the command and returns at once; the reply is taken from the PendingReply, which
  // waits at most `timeout` from now. With `raw` the line is kept for getRaw() and not parsed.
  PendingReply submit(const std::string& command, const nlohmann::json& args = {},
                      std::chrono::milliseconds timeout = kDefaultCommandTimeout, bool raw = false);

  // Shuts the connection down, fails pending commands with unavailable and waits for the reader
  // thread (unless called from it). Idempotent. No callback runs after it returns, except the
  // one that called it.
  void close();

  // False once the connection is closed from either side.
  bool connected() const;

  const Greeting& greeting() const { return greeting_; }

 private:
  struct Shared;

  friend class PendingReply;

  QmpTransport(std::shared_ptr<Shared> shared, Greeting greeting);

  // Owned jointly with the reader thread, so that a transport destroyed from inside a callback
  // leaves the still-running reader with valid state to finish on.
  std::shared_ptr<Shared> shared_;
  std::thread reader_;
  Greeting greeting_;
};

}  // namespace paddock::qmp
