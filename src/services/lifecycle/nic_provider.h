// What the lifecycle needs from virtual networking, so it never touches host devices itself.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "engine/launch_spec.h"
#include "model/vm_state.h"

namespace paddock {

class NicProvider {
 public:
  virtual ~NicProvider() = default;
  // Checks the NICs of `spec` against the networks and the other VMs, and fills in MACs.
  // `others` are all VMs but this one.
  virtual Status prepare(VmSpec& spec, const std::vector<VmRecord>& others) = 0;
  // Makes the VM's networks and TAP devices ready; returns what QEMU attaches to.
  virtual Result<std::vector<LaunchNic>> attach(const VmSpec& spec) = 0;
  // One NIC of running VM `vm` (hot-plug): its network up, its TAP made, its reservation known.
  virtual Result<LaunchNic> attachNic(const std::string& vm, const NicSpec& nic) = 0;
  // Removes the VM's TAP devices (the VM's QEMU is gone).
  virtual void detach(const VmSpec& spec) = 0;
  virtual void detachNic(const NicSpec& nic) = 0;
  // The VMs' NICs changed: refresh DHCP reservations and DNS names.
  virtual void nicsChanged() = 0;
  // Whether the NIC of `spec` with `mac` can be rate-limited (it has a host TAP).
  virtual Status shapeable(const VmSpec& spec, const std::string& mac) = 0;
  // Sets (or, all zero, removes) the rate limits of the running VM's NIC with `mac`.
  virtual Status shape(const VmSpec& spec, const std::string& mac, const NicLimits& limits) = 0;
};

}  // namespace paddock
