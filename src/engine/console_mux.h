// Owns the connection to a VM's serial console socket: keeps a bounded log, spots the guest's
// readiness line, and fans the output out to any number of readers while one writer may type.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace paddock {

inline constexpr const char* kReadyMarker = "PADDOCK-READY";

class ConsoleMux {
 public:
  struct Options {
    std::string socketPath;
    std::string logPath;
    size_t logLimitBytes = 1 << 20;  // then the log rotates to <log>.1 (one old file kept)
    std::function<void(const std::string& line)> onReady;  // once per boot, from the reader thread
  };
  using Reader = std::function<void(std::string_view bytes)>;

  // Connects (waiting up to `timeout` for QEMU to create the socket) and starts reading.
  static Result<std::unique_ptr<ConsoleMux>> open(Options options,
                                                  std::chrono::milliseconds timeout);
  ~ConsoleMux();

  int addReader(Reader reader);
  void removeReader(int id);
  // One writer at a time: returns false if another holds it.
  bool claimWriter(int readerId);
  void releaseWriter(int readerId);
  Status write(int readerId, std::string_view bytes);
  // Re-arms readiness detection (after a reboot).
  void rearmReady() { readySeen_ = false; }

 private:
  ConsoleMux(Options options, int fd);
  void readLoop();
  void appendLog(std::string_view bytes);
  void scanLines(std::string_view bytes);

  Options options_;
  int fd_;
  std::thread reader_;
  std::mutex mutex_;  // readers_, writerId_, log state
  std::map<int, Reader> readers_;
  int nextId_ = 1;
  int writerId_ = 0;
  int logFd_ = -1;
  size_t logSize_ = 0;
  std::string partialLine_;
  std::atomic<bool> readySeen_{false};
};

}  // namespace paddock
