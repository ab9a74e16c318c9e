// Publishes state changes: stored (so /v1/events?after=ID can replay) and pushed to waiters.
#pragma once

#include <condition_variable>
#include <mutex>
#include <vector>

#include "model/event.h"
#include "store/store.h"

namespace paddock {

class EventBus {
 public:
  explicit EventBus(Store& store) : store_(store) {}

  void publish(const std::string& type, const std::string& object, nlohmann::json data);
  // Events after `afterId`; waits up to `timeout` when there are none yet.
  std::vector<Event> waitAfter(int64_t afterId, std::chrono::milliseconds timeout);
  int64_t lastId();
  // Wakes every waiter (daemon shutdown).
  void shutdown();
  bool stopped();

 private:
  Store& store_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int64_t lastId_ = -1;
  bool shutdown_ = false;
};

}  // namespace paddock
