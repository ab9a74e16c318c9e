// VM snapshots: internal qcow2 snapshots of all of a VM's disks (and, for memory snapshots, its
// machine state), with the tree Paddock keeps of them.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock {

// Store object kind of VM `vm`'s snapshot records (name = snapshot name).
inline std::string snapshotKind(const std::string& vm) {
  return "snapshot:" + vm;
}
// Store object kind of the VM's "current snapshot" marker (name = VM name).
inline constexpr const char* kSnapshotCurrentKind = "snapshot-current";
// Store object kind of snapshots being taken (name = "<vm>/<snapshot>", doc {"vm", "name",
// "disks"}): written before QEMU or qemu-img is asked, removed once the record exists or the
// attempt is undone. One left at daemon start marks an internal snapshot that may exist without
// a record (paddockd was killed meanwhile); it is deleted then.
inline constexpr const char* kSnapshotPendingKind = "snapshot-pending";

struct SnapshotRecord {
  std::string vm;
  std::string name;
  std::string description;
  std::string parent;   // the snapshot that was current when this one was taken; "" for a root
  bool memory = false;  // holds the machine state: revert continues the running guest
  std::string vmState;  // the VM's state when taken: running, paused or stopped
  std::vector<std::string> disks;  // the disks it covers
  int64_t createdAtMs = 0;
};

nlohmann::json toJson(const SnapshotRecord& s);
Result<SnapshotRecord> snapshotFromJson(const nlohmann::json& j);

}  // namespace paddock
