// CPU reservations as weights: a VM that reserves R of the host's N CPUs must get at least R/N of
// the CPU time when every VM is busy. CFS hands out contended CPU in proportion to the groups'
// weights, so each reserving VM's weight is raised until w_i / Σw ≥ R_i / N, never lowered below
// the shares its owner set. Admission keeps ΣR ≤ N, which makes the weights exist; when ΣR = N the
// VMs without reservations are left with the smallest weight the cap allows.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace paddock {

struct WeightRequest {
  std::string vm;
  int shares = 0;           // the VM's own shares (0: the default 1000)
  double reservedCpus = 0;  // guaranteed host CPUs; 0: none
};

// The weight (in Paddock's shares scale, capped at host::kMaxShares) to give each VM.
std::map<std::string, int> reservationWeights(const std::vector<WeightRequest>& vms, int hostCpus);

}  // namespace paddock
