// A thread that runs one job every interval until stopped: the collector's rounds, the
// overcommit manager's. stop() wakes it at once instead of waiting out the interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace paddock {

class PeriodicWorker {
 public:
  PeriodicWorker() = default;
  ~PeriodicWorker() { stop(); }
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;

  // Runs `job` every `interval` on a new thread: first at once if `runFirst`, else after one
  // interval. Does nothing if it is already running.
  void start(std::chrono::milliseconds interval, bool runFirst, std::function<void()> job) {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this, interval, runFirst, job = std::move(job)] {
      std::unique_lock lock(mutex_);
      if (!runFirst && wake_.wait_for(lock, interval, [this] { return stopping_; })) return;
      while (!stopping_) {
        lock.unlock();
        job();
        lock.lock();
        wake_.wait_for(lock, interval, [this] { return stopping_; });
      }
    });
  }

  // Waits for a running job to finish; idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace paddock
