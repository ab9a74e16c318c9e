#include "services/operations.h"

#include <fmt/format.h>

#include "common/clock.h"

#include <algorithm>
#include <thread>

namespace paddock {

struct OperationManager::Entry : OperationContext {
  OperationManager* owner = nullptr;
  Operation op;
  std::atomic<bool> cancelRequested{false};

  void progress(int percent, const std::string& message) override {
    std::lock_guard lock(owner->mutex_);
    op.progress = std::clamp(percent, 0, 100);
    op.message = message;
    op.updatedAtMs = nowMs();
    owner->cv_.notify_all();
  }
  bool cancelled() const override { return cancelRequested; }
};

OperationManager::~OperationManager() {
  drain();
}

Operation OperationManager::start(const std::string& kind, const std::string& object, Work work) {
  auto e = std::make_shared<Entry>();
  e->owner = this;
  std::lock_guard lock(mutex_);
  e->op.id = nextId_++;
  e->op.kind = kind;
  e->op.object = object;
  e->op.createdAtMs = e->op.updatedAtMs = nowMs();
  ops_[e->op.id] = e;
  // Keep the newest 1000 finished operations.
  while (ops_.size() > 1000 && ops_.begin()->second->op.status != OperationStatus::running)
    ops_.erase(ops_.begin());
  ++active_;
  std::thread([this, e, work = std::move(work)] { finish(e, work(*e)); }).detach();
  return e->op;
}

void OperationManager::finish(const std::shared_ptr<Entry>& e, Result<nlohmann::json> result) {
  Operation snapshot;
  {
    std::lock_guard lock(mutex_);
    if (result) {
      e->op.status = OperationStatus::succeeded;
      e->op.progress = 100;
      e->op.result = *result;
    } else {
      e->op.status = e->cancelRequested ? OperationStatus::cancelled : OperationStatus::failed;
      e->op.error = {{"code", errcName(result.error().code)}, {"message", result.error().message}};
      if (!result.error().field.empty()) e->op.error["field"] = result.error().field;
    }
    e->op.updatedAtMs = nowMs();
    snapshot = e->op;
  }
  events_.publish("operation", fmt::format("operation/{}", snapshot.id), toJson(snapshot));
  std::lock_guard lock(mutex_);
  --active_;
  cv_.notify_all();
}

Result<Operation> OperationManager::get(int64_t id) {
  std::lock_guard lock(mutex_);
  auto it = ops_.find(id);
  if (it == ops_.end())
    return makeError(Errc::not_found, fmt::format("operation {} does not exist", id));
  return it->second->op;
}

std::vector<Operation> OperationManager::list() {
  std::lock_guard lock(mutex_);
  std::vector<Operation> out;
  for (auto& [id, e] : ops_) out.push_back(e->op);
  return out;
}

Result<Operation> OperationManager::wait(int64_t id, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto it = ops_.find(id);
  if (it == ops_.end())
    return makeError(Errc::not_found, fmt::format("operation {} does not exist", id));
  auto e = it->second;
  cv_.wait_for(lock, timeout, [&] { return e->op.status != OperationStatus::running; });
  return e->op;
}

Status OperationManager::cancel(int64_t id) {
  std::lock_guard lock(mutex_);
  auto it = ops_.find(id);
  if (it == ops_.end())
    return makeError(Errc::not_found, fmt::format("operation {} does not exist", id));
  if (it->second->op.status != OperationStatus::running)
    return makeError(Errc::conflict, fmt::format("operation {} has already finished", id));
  it->second->cancelRequested = true;
  return {};
}

bool OperationManager::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  for (auto& [id, e] : ops_) e->cancelRequested = true;
  return cv_.wait_for(lock, timeout, [&] { return active_ == 0; });
}

}  // namespace paddock
