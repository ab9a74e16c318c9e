// The overcommit manager's policy, free of side effects so it can be tested on numbers: when the
// host's available memory falls below a low watermark, take memory back from the VMs whose guests
// have the most of it idle, by inflating their balloons; when it rises above a high watermark,
// give it back. Between the two watermarks nothing moves, so the manager does not oscillate.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace paddock {

struct OvercommitPolicy {
  bool enabled = true;
  std::uint64_t lowMib = 0;   // reclaim when host MemAvailable is below this
  std::uint64_t highMib = 0;  // give back when it is above this (> lowMib)
  // What every guest keeps idle after a reclaim, so it does not start swapping or OOM-killing.
  std::uint64_t guestKeepMib = 64;
  // No balloon goes below this, whatever the reservation.
  std::uint64_t floorMib = 64;
  // At most this fraction of a VM's memory moves in one round: the guest gets time to react,
  // and the next round sees the effect before deciding more.
  double stepFraction = 0.25;
};

// One running VM as the manager sees it.
struct BalloonView {
  std::string vm;
  std::uint64_t memoryMib = 0;    // configured
  std::uint64_t reservedMib = 0;  // never reclaimed
  std::uint64_t ownerMib = 0;     // the owner's balloon target; the VM's memory when none
  std::uint64_t currentMib = 0;   // the manager's target now (ownerMib when it took nothing)
  std::optional<std::uint64_t> guestAvailableMib;  // from the balloon driver's statistics
  // False while the guest's figures predate the manager's last change to this VM's balloon:
  // reclaiming on them would take the same idle memory twice.
  bool settled = true;
};

struct BalloonDecision {
  std::string vm;
  std::uint64_t fromMib = 0, toMib = 0;
  std::string reason;  // for the event and the log, e.g. "host has 900M available, below 1024M"
};

// What to change this round, given the host's available memory.
std::vector<BalloonDecision> planBalloons(const OvercommitPolicy& policy,
                                          std::uint64_t hostAvailableMib,
                                          const std::vector<BalloonView>& vms);

}  // namespace paddock
