// What `paddock host info` shows: capacity, QEMU, and which accelerator and why.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "model/vm_spec.h"
#include "services/lifecycle/accel_resolver.h"
#include "services/lifecycle/vm_service.h"

namespace paddock {

HostLimits readHostLimits();
// "model name" of the first CPU in /proc/cpuinfo ("" where there is none, e.g. some ARM boards).
std::string cpuModel();
// MemAvailable of /proc/meminfo.
uint64_t memAvailableMib();

class HostInfoService {
 public:
  HostInfoService(Engine& engine, AccelResolver& accel, VmService& vms, std::string stateDir)
      : engine_(engine), accel_(accel), vms_(vms), stateDir_(std::move(stateDir)) {}
  // Also what a peer checks before it sends a VM here: CPU model, memory available now, and
  // what the VMs with a QEMU process (running, paused, starting) have been given.
  nlohmann::json info();

 private:
  Engine& engine_;
  AccelResolver& accel_;
  VmService& vms_;
  std::string stateDir_;
};

}  // namespace paddock
