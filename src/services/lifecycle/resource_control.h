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
  // Admission control for the VMs that run (ESX power-on admission, z/VM SET RESERVED): holds the
  // VM's CPU and memory reservations, or replaces what it held, if the host can honour them beside
  // the other running VMs' (conflict naming resources.cpu_reservation or
  // resources.memory_reservation_mib otherwise, and nothing changes). Called before a VM starts
  // and before a running VM's resources change; release() gives the reservations back. With
  // `hold` false it only answers whether they would fit.
  virtual Status admit(const VmSpec& spec, bool hold = true) = 0;
  // Puts the VM's running process under `spec.resources`: on start and on every live change.
  virtual Status apply(const VmSpec& spec, VmProcess& process) = 0;
  // The VM's process is gone (or never started): remove what admit and apply made.
  virtual void release(const std::string& vm) = 0;
};

}  // namespace paddock
