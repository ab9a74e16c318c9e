#include "model/vm_state.h"

#include <array>

#include "common/clock.h"

namespace paddock {

using nlohmann::json;

namespace {
constexpr std::array<std::pair<VmState, const char*>, 7> kStates{{
    {VmState::stopped, "stopped"},
    {VmState::starting, "starting"},
    {VmState::running, "running"},
    {VmState::paused, "paused"},
    {VmState::stopping, "stopping"},
    {VmState::crashed, "crashed"},
    {VmState::suspended, "suspended"},
}};
}  // namespace

const char* vmStateName(VmState s) {
  for (const auto& [st, n] : kStates)
    if (st == s) return n;
  return "stopped";
}

std::optional<VmState> vmStateFromName(const std::string& s) {
  for (const auto& [st, n] : kStates)
    if (s == n) return st;
  return std::nullopt;
}

bool hasProcess(VmState s) {
  return s == VmState::starting || s == VmState::running || s == VmState::paused ||
         s == VmState::stopping;
}

json toJson(const VmRuntime& r) {
  return {{"state", vmStateName(r.state)},
          {"reason", r.reason},
          {"pid", r.pid},
          {"accel", r.accel},
          {"state_since_ms", r.stateSinceMs},
          {"started_at_ms", r.startedAtMs},
          {"ready_at_ms", r.readyAtMs},
          {"ready_line", r.readyLine}};
}

Result<VmRuntime> vmRuntimeFromJson(const json& j) {
  try {
    VmRuntime r;
    auto st = vmStateFromName(j.at("state").get<std::string>());
    if (!st) return makeError(Errc::internal, "stored VM state is unknown");
    r.state = *st;
    r.reason = j.value("reason", "");
    r.pid = j.value("pid", 0);
    r.accel = j.value("accel", "");
    r.stateSinceMs = j.value("state_since_ms", int64_t{0});
    r.startedAtMs = j.value("started_at_ms", int64_t{0});
    r.readyAtMs = j.value("ready_at_ms", int64_t{0});
    r.readyLine = j.value("ready_line", "");
    return r;
  } catch (const json::exception& e) {
    return makeError(Errc::internal, std::string("stored VM runtime is malformed: ") + e.what());
  }
}

json toJson(const VmRecord& r) {
  json j = toJson(r.spec);
  j["state"] = vmStateName(r.runtime.state);
  j["runtime"] = toJson(r.runtime);
  j["created_at"] = formatTimeMs(r.createdAtMs);
  j["updated_at"] = formatTimeMs(r.updatedAtMs);
  return j;
}

}  // namespace paddock
