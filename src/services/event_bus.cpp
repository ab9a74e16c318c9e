#include "services/event_bus.h"

#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace paddock {

void EventBus::publish(const std::string& type, const std::string& object, nlohmann::json data) {
  Event e;
  e.timeMs = nowMs();
  e.type = type;
  e.object = object;
  e.data = std::move(data);
  std::lock_guard lock(mutex_);
  auto id = store_.appendEvent(e);
  if (!id) {
    spdlog::error("cannot store event {} {}: {}", type, object, id.error().message);
    return;
  }
  lastId_ = *id;
  cv_.notify_all();
}

int64_t EventBus::lastId() {
  std::lock_guard lock(mutex_);
  if (lastId_ < 0) {
    lastId_ = 0;
    int64_t after = 0;
    for (;;) {
      auto batch = store_.listEvents(after, 1000);
      if (!batch || batch->empty()) break;
      after = batch->back().id;
    }
    lastId_ = after;
  }
  return lastId_;
}

std::vector<Event> EventBus::waitAfter(int64_t afterId, std::chrono::milliseconds timeout) {
  auto batch = store_.listEvents(afterId, 500);
  if (batch && !batch->empty()) return *batch;
  {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return shutdown_ || (lastId_ > afterId); });
  }
  batch = store_.listEvents(afterId, 500);
  return batch ? *batch : std::vector<Event>{};
}

void EventBus::shutdown() {
  std::lock_guard lock(mutex_);
  shutdown_ = true;
  cv_.notify_all();
}

bool EventBus::stopped() {
  std::lock_guard lock(mutex_);
  return shutdown_;
}

}  // namespace paddock
