// qemu-storage-daemon holding a stopped VM's disks open for block jobs (backups): the same QMP
// commands as a running VM's QEMU, without a guest. It is bound to the thread that opened it
// (dies with it, paddockd included) and quits cleanly when the session is destroyed, which
// writes the persistent dirty bitmaps back into the qcow2 files.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/block_jobs.h"
#include "engine/qemu/qmp_block_jobs.h"
#include "engine/qemu/qmp_client.h"

namespace paddock {

inline constexpr const char* kStorageDaemonBinary = "qemu-storage-daemon";

class StorageDaemon : public DiskSession {
 public:
  static Result<std::unique_ptr<StorageDaemon>> open(const std::string& name,
                                                     const std::vector<LaunchDisk>& disks,
                                                     const std::string& runDir);
  ~StorageDaemon() override;

  Result<std::vector<DiskBitmap>> bitmaps() override { return jobs_->bitmaps(); }
  Status removeBitmap(const std::string& disk, const std::string& name) override {
    return jobs_->removeBitmap(disk, name);
  }
  Status backup(const BackupJob& job, const BackupCallbacks& callbacks) override {
    return jobs_->backup(job, callbacks);
  }

 private:
  StorageDaemon(std::string name, pid_t pid) : name_(std::move(name)), pid_(pid) {}
  void reap(bool force);

  std::string name_;
  pid_t pid_;
  std::unique_ptr<qmp::QmpClient> qmp_;
  std::unique_ptr<QmpBlockJobs> jobs_;
};

// The storage daemon's command line (for tests).
std::vector<std::string> storageDaemonArgv(const std::vector<LaunchDisk>& disks,
                                           const std::string& qmpSocket);

}  // namespace paddock
