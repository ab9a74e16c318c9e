// A second QMP monitor of one QEMU that only the asking thread reads (the collector's): the
// reply to a query is read by the thread that wants it, after it has done other work, so taking
// it usually costs one read() and no thread wake-up. The ordinary QmpTransport would wake its
// reader thread for the reply and that thread would wake the asker: on a host where a context
// switch costs microseconds, those wake-ups were a third of what sampling 1 VM cost.
//
// Not thread-safe: one thread at a time asks and takes. QEMU sends events to every monitor;
// they are read and dropped here.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.h"

namespace paddock::qmp {

class StatsMonitor {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StatsMonitor(std::string socketPath);
  ~StatsMonitor();
  StatsMonitor(const StatsMonitor&) = delete;
  StatsMonitor& operator=(const StatsMonitor&) = delete;

  // Sends `command` (no arguments), connecting first if not connected. The capabilities
  // handshake is sent ahead of it without waiting for QEMU's greeting, so a new connection
  // costs no extra round trip. not_found when the socket does not exist (a QEMU started
  // without this monitor), unavailable when QEMU does not accept. One command at a time: the
  // previous one must have been taken.
  Status ask(const std::string& command);

  // The reply line ({"return": ..., "id": N}) of the command asked last, read on the calling
  // thread, waiting at most until `deadline`. conflict when QEMU answers with an error. On
  // timeout or unavailable the connection is closed (the next ask() reconnects), so that a
  // late reply cannot be taken for the next command's.
  Result<std::string> take(Clock::time_point deadline);

 private:
  void disconnect();
  // The next complete line in buffer_, or false.
  bool nextLine(std::string& line);

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
  std::uint64_t nextId_ = 1;
  std::uint64_t asked_ = 0;  // id of the command whose reply is awaited, 0: none
  std::string command_;
};

}  // namespace paddock::qmp
