// Block jobs on a VM's disks: changed-block tracking (persistent dirty bitmaps stored in the
// qcow2 files) and point-in-time backups of all disks at once. A running VM's QEMU does them;
// for a stopped VM the engine opens its disks in a helper process (DiskSession) that speaks the
// same protocol, so there is one implementation of the backup logic.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "engine/launch_spec.h"

namespace paddock {

struct DiskBitmap {
  std::string disk;  // Paddock disk id
  std::string name;
  bool usable = true;  // false: QEMU did not close the image cleanly since it was made
  std::uint64_t dirtyBytes = 0;
};

struct BackupDiskJob {
  std::string disk;    // Paddock disk id
  std::string target;  // a qcow2 file made beforehand with the disk's virtual size
  // "": copy the whole disk. Else copy only the blocks this bitmap marks (changed since it was
  // made); the target then has the previous backup as its backing file.
  std::string sinceBitmap;
};

struct BackupJob {
  std::string id;  // unique among this process's jobs (job ids are "<id>-<disk>")
  // Made on every disk at the backup's point in time (empty, recording from then on): the next
  // incremental backup copies what it marks. "": none (a one-off copy, e.g. a template).
  std::string newBitmap;
  std::vector<BackupDiskJob> disks;
  // Pause the guest while the jobs start, so no write is in flight at the point in time.
  bool pauseGuest = true;
  std::uint64_t bytesPerSecond = 0;  // per disk; 0: as fast as the storage goes
};

struct BackupCallbacks {
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;  // bytes, all disks
  std::function<bool()> cancelled;
};

class BlockJobs {
 public:
  virtual ~BlockJobs() = default;
  virtual Result<std::vector<DiskBitmap>> bitmaps() = 0;
  // A bitmap already gone is success.
  virtual Status removeBitmap(const std::string& disk, const std::string& name) = 0;
  // Copies the disks as they are at one instant into their targets and returns once every copy
  // is complete (the guest keeps running meanwhile). On failure or cancel every job is stopped,
  // `newBitmap` is removed again, and the targets hold garbage for the caller to delete.
  virtual Status backup(const BackupJob& job, const BackupCallbacks& callbacks) = 0;
};

// A stopped VM's disks opened for block jobs; closing it (destruction) writes the bitmaps back
// into the qcow2 files and releases the disks.
class DiskSession : public BlockJobs {};

}  // namespace paddock
