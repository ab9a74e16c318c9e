// Runs long requests in the background as operations clients can poll, wait for or cancel.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "model/operation.h"
#include "services/event_bus.h"

namespace paddock {

class OperationContext {
 public:
  virtual ~OperationContext() = default;
  virtual void progress(int percent, const std::string& message) = 0;
  virtual bool cancelled() const = 0;
};

class OperationManager {
 public:
  using Work = std::function<Result<nlohmann::json>(OperationContext&)>;

  explicit OperationManager(EventBus& events) : events_(events) {}
  ~OperationManager();

  Operation start(const std::string& kind, const std::string& object, Work work);
  Result<Operation> get(int64_t id);
  std::vector<Operation> list();
  // Waits until the operation finishes or `timeout` passes; returns its current view.
  Result<Operation> wait(int64_t id, std::chrono::milliseconds timeout);
  Status cancel(int64_t id);
  // Asks running operations to cancel and waits up to `timeout` for them (daemon shutdown).
  // Returns false if some are still running.
  bool drain(std::chrono::milliseconds timeout = std::chrono::hours(1));

 private:
  struct Entry;
  void finish(const std::shared_ptr<Entry>& e, Result<nlohmann::json> result);

  EventBus& events_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int64_t nextId_ = 1;
  std::map<int64_t, std::shared_ptr<Entry>> ops_;
  int active_ = 0;  // worker threads still running
};

}  // namespace paddock
