// BlockJobs over a QMP monitor: the same code serves a VM's QEMU and the storage daemon that
// opens a stopped VM's disks. Disk "<id>" is block node "drive-<id>" in both.
#pragma once

#include "engine/block_jobs.h"
#include "engine/qemu/qmp_client.h"

namespace paddock {

class QmpBlockJobs : public BlockJobs {
 public:
  explicit QmpBlockJobs(qmp::QmpClient& qmp) : qmp_(qmp) {}

  Result<std::vector<DiskBitmap>> bitmaps() override;
  Status removeBitmap(const std::string& disk, const std::string& name) override;
  Status backup(const BackupJob& job, const BackupCallbacks& callbacks) override;

 private:
  // Waits until every job in `ids` has concluded, reporting progress and cancelling all on a
  // cancel or on the first failure; the first error is the result.
  Status follow(const std::vector<std::string>& ids, const BackupCallbacks& callbacks);
  void undo(const BackupJob& job, size_t targetsAdded, bool bitmapsAdded);

  qmp::QmpClient& qmp_;
};

}  // namespace paddock
