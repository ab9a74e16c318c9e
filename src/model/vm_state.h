// What a VM is doing now: derived from QEMU, persisted so a restarted daemon knows what to adopt.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "model/vm_spec.h"

namespace paddock {

// suspended: no process; the running state is saved in a file and `resume` continues from it.
enum class VmState { stopped, starting, running, paused, stopping, crashed, suspended };
const char* vmStateName(VmState s);
std::optional<VmState> vmStateFromName(const std::string& s);
// A state in which a QEMU process exists for the VM.
bool hasProcess(VmState s);

struct VmRuntime {
  VmState state = VmState::stopped;
  std::string reason;  // why it is in this state ("guest powered off", "killed by signal 9")
  pid_t pid = 0;
  std::string accel;  // accelerator the running QEMU uses
  int64_t stateSinceMs = 0;
  int64_t startedAtMs = 0;
  int64_t readyAtMs = 0;  // when the guest printed its readiness line (0: not yet)
  std::string readyLine;

  bool operator==(const VmRuntime&) const = default;
};

struct VmRecord {
  VmSpec spec;
  VmRuntime runtime;
  int64_t createdAtMs = 0;
  int64_t updatedAtMs = 0;
};

nlohmann::json toJson(const VmRuntime& r);
Result<VmRuntime> vmRuntimeFromJson(const nlohmann::json& j);
// The API's view of a VM: its spec plus "state", "runtime" and timestamps.
nlohmann::json toJson(const VmRecord& r);

}  // namespace paddock
