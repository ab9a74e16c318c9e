// What the lifecycle needs from resource control (cgroups, pinning, the balloon), so it never
// touches host resources itself.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "engine/engine.h"
#include "model/vm_state.h"

namespace paddock {

class ResourceControl {
 public:
  virtual ~ResourceControl() = default;
  // Admission: can `spec`'s resources be honoured beside the other VMs (`others`: all but it)?
  // E.g. a CPU another VM has dedicated is refused (conflict, field "resources.cpus").
  virtual Status check(const VmSpec& spec, const std::vector<VmRecord>& others) = 0;
  // Puts the VM's running process under `spec.resources`: on start and on every live change.
  virtual Status apply(const VmSpec& spec, VmProcess& process) = 0;
  // The VM's process is gone: remove what apply made.
  virtual void release(const std::string& vm) = 0;
};

}  // namespace paddock
