// VM snapshots (vSphere's snapshot manager, `virsh snapshot-*`): internal qcow2 snapshots of all
// of a VM's disks, taken while it is stopped (qemu-img) or running (QMP: a transaction of
// blockdev-snapshot-internal-sync for disks only, the snapshot-save job with memory). Each is
// complete on its own (qcow2 refcounts clusters), so deleting one in the middle of the tree only
// re-parents its children. Records live in the store (kind snapshot:<vm>); the current one
// (what the VM runs on top of) is the parent of the next.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "model/snapshot.h"
#include "services/event_bus.h"
#include "services/lifecycle/vm_service.h"
#include "services/operations.h"
#include "store/store.h"

namespace paddock {

struct SnapshotTree {
  std::vector<SnapshotRecord> snapshots;  // oldest first
  std::string current;                    // "" before the first snapshot or after deleting it all
};

class SnapshotService {
 public:
  SnapshotService(Store& store, VmService& vms, EventBus& events)
      : store_(store), vms_(vms), events_(events) {}

  // What create() would refuse before doing anything (the API answers it with a 4xx).
  Status checkCreate(const std::string& vm, const std::string& name, const std::string& description,
                     bool memory);
  Result<SnapshotRecord> create(const std::string& vm, const std::string& name,
                                const std::string& description, bool memory, OperationContext* op);
  Result<SnapshotTree> list(const std::string& vm);
  Result<SnapshotRecord> get(const std::string& vm, const std::string& name);
  // Disks go back to the snapshot. A memory snapshot continues the guest from where it was
  // (started from it when the VM is stopped); a disk-only one leaves the VM stopped (a running VM
  // is powered off first, as vSphere does). `poweredOff` tells whether that happened.
  Result<SnapshotRecord> revert(const std::string& vm, const std::string& name,
                                OperationContext* op, bool* poweredOff = nullptr);
  Status remove(const std::string& vm, const std::string& name);
  // Daemon start (after adoption): deletes internal snapshots an interrupted create left
  // without a record.
  void cleanPending();

 private:
  Status setCurrent(const std::string& vm, const std::string& name);
  std::string current(const std::string& vm);
  // Deletes internal snapshot `name` of `disks` wherever it is (running or not), if it exists.
  Status discard(const std::string& vm, const std::string& name,
                 const std::vector<std::string>& disks);
  // Removes the backup bitmaps (changed-block tracking) of the VM's disks.
  Status dropChangeTracking(const std::string& vm);

  Store& store_;
  VmService& vms_;
  EventBus& events_;
  std::mutex mutex_;  // one snapshot change at a time: the tree stays consistent
};

}  // namespace paddock
