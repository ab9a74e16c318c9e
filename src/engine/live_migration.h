// Live migration as the engine does it: the source mirrors every writable disk to the target's
// NBD exports while the guest runs, then sends memory over QEMU's migration stream, and once the
// stream has completed (the source paused) lets the mirrors finish their last writes. The target
// QEMU waits paused until told to continue, so its guest never runs before its disks are whole.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace paddock {

struct LiveMigrationDisk {
  std::string id;             // the VM's disk id (node drive-<id>), also the NBD export name
  bool onlyTopLayer = false;  // linked clone: the target's overlay has the same base image
};

struct LiveMigrationParams {
  std::string host;  // the target as this host reaches it
  int migrationPort = 0;
  int nbdPort = 0;
  std::vector<LiveMigrationDisk> disks;
  std::uint64_t maxDowntimeMs = 300;  // a cap: see downtimeLimitForPass
  std::uint64_t bandwidthBytes = 0;   // per second; 0: as fast as the link goes
  bool autoConverge = false;          // throttle the vCPUs of a guest that dirties memory faster
  // Switch to the target after the first memory pass and send the rest on demand (the target
  // must acceptPostCopy()). A failure after the switch cannot be undone: neither side then has
  // the whole guest.
  bool postCopy = false;
  // After a post-copy switch, when the stream breaks: has the target listen again and returns
  // the port it listens on, for the rest of memory. An unavailable or timeout error is tried
  // again (the link may come back) for up to a minute; any other ends the migration. Empty: a
  // break after the switch ends it at once.
  std::function<Result<int>()> recover;
};

struct LiveMigrationProgress {
  // postcopy: the guest runs on the target (reported once, before anything else can fail);
  // from then on a cancel is ignored.
  enum class Phase { disks, memory, switchover, postcopy } phase = Phase::disks;
  std::uint64_t diskDone = 0, diskTotal = 0;  // bytes the mirrors copied / have to copy
  std::uint64_t memoryTotal = 0, memoryRemaining = 0, memorySent = 0;
  std::uint64_t dirtyBytesPerSecond = 0;
  std::int64_t expectedDowntimeMs = -1;  // -1: not estimated yet
  int passes = 0;                        // memory passes (dirty syncs) so far
  int recoveryAttempts = 0;              // post-copy: times the broken stream was sent again
};

struct LiveMigrationResult {
  std::int64_t downtimeMs = 0;  // as QEMU measured it (guest paused to continued on the target
                                // side is this plus the mirrors' last flush and the commit)
  std::int64_t totalMs = 0;     // memory phase, as QEMU measured it
  std::uint64_t memorySent = 0;
  std::uint64_t diskBytes = 0;        // what the mirrors copied
  std::int64_t diskMs = 0;            // from the mirrors' start until all were in sync
  bool wasRunning = true;             // false: the guest was paused and stays so on the target
  bool postCopy = false;              // it switched over before memory was all sent
  std::uint64_t downtimeLimitMs = 0;  // the limit QEMU had when it switched over
  int postCopyRecoveries = 0;         // post-copy streams that broke and were sent again
  std::int64_t finishMs = 0;  // pre-copy: from the stream's completion to the mirrors' end (the
                              // guest paused)
};

// The pause QEMU may plan for while memory pass `passes` (its dirty-sync count, 1 in the first)
// runs. QEMU stops the guest as soon as what is left fits in the limit at the measured
// bandwidth, so a fixed limit of 300 ms lets it take most of that even for an idle guest whose
// next pass would leave almost nothing. Paddock starts low and doubles the limit with every pass
// that did not get there, up to the operator's cap: an idle guest switches at the first steps,
// one that dirties memory fast still converges within the cap.
constexpr std::uint64_t kFirstDowntimeLimitMs = 20;
std::uint64_t downtimeLimitForPass(std::uint64_t capMs, int passes);

}  // namespace paddock
