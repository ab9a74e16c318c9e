// Backup and restore (Proxmox's vzdump, vSphere's VADP with changed-block tracking): full and
// incremental backups of all a VM's disks at one point in time into named repositories, running
// or stopped, with checksums, verify, restore into a new (or, with force, an existing) VM, and
// retention.
//
// Changed-block tracking: each backup adds a persistent dirty bitmap "paddock-backup:<repo>:<id>"
// to every disk at its point in time (one QMP transaction with the copy jobs). The next backup
// into the same repository copies what that bitmap marks, on top of the previous backup's files
// (qcow2 backing files). The previous bitmap is dropped only after the new backup is recorded,
// so an interrupted backup leaves the chain as it was. When the bitmap is missing or
// untrustworthy (QEMU killed, a snapshot reverted, disks changed), the backup is full.
#pragma once

#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/backup.h"
#include "services/backups/backup_repository.h"
#include "services/event_bus.h"
#include "services/lifecycle/vm_service.h"
#include "services/operations.h"
#include "store/store.h"

namespace paddock {

struct RepoView {
  BackupRepo repo;
  int backups = 0;
  std::uint64_t bytes = 0;  // all backup files
  RepoSpace space;
  std::string problem;  // set when the folder cannot be used now
};

struct PruneResult {
  std::vector<std::string> removed;  // ids, newest first
  std::vector<std::string> kept;     // ids, oldest first
};

struct RestoreRequest {
  std::string repo, vm, id;  // id may be "latest"
  std::string as;            // the VM to create; "" = vm
  bool force = false;        // replace `as` if it exists (it must be stopped)
};

class BackupService {
 public:
  BackupService(Store& store, VmService& vms, Engine& engine, EventBus& events)
      : store_(store), vms_(vms), engine_(engine), events_(events) {}

  Result<BackupRepo> addRepo(const std::string& name, const std::string& path);
  Result<std::vector<RepoView>> listRepos();
  // `name` "" picks the only repository there is.
  Result<BackupRepo> repo(const std::string& name);
  Status removeRepo(const std::string& name);  // forgets it; the files stay

  Status checkCreate(const std::string& vm, const std::string& repo);
  // `bwlimitMib`: MiB/s per disk, 0 for no limit (keeps a backup from starving the guests).
  Result<BackupManifest> create(const std::string& vm, const std::string& repo, bool full,
                                std::uint64_t bwlimitMib, OperationContext* op);
  Result<std::vector<BackupManifest>> list(const std::string& repo, const std::string& vm);
  Result<BackupManifest> get(const std::string& repo, const std::string& vm, const std::string& id);
  Result<std::vector<BackupCheck>> verify(const std::string& repo, const std::string& vm,
                                          const std::string& id);
  Status checkRestore(const RestoreRequest& req);
  Result<VmRecord> restore(const RestoreRequest& req, OperationContext* op);
  // Keeps the newest `keepLast` backups and the newest of each of the last `keepDaily` days
  // that have backups (UTC), plus every backup a kept one is built on; removes the rest.
  Result<PruneResult> prune(const std::string& repo, const std::string& vm, int keepLast,
                            int keepDaily, bool dryRun);
  // Refused while an incremental backup is built on it.
  Status remove(const std::string& repo, const std::string& vm, const std::string& id);

  // Daemon start: removes what interrupted backups left in every repository.
  void cleanPartial();

 private:
  // One backup operation per VM and repository at a time; released on destruction.
  class Claim;
  Result<BackupRepository> open(const std::string& repo);
  Result<BackupManifest> resolve(const BackupRepository& r, const std::string& vm,
                                 const std::string& id);
  Status backupWith(BlockJobs& jobs, const BackupRepo& repo, const BackupRepository& r,
                    const VmRecord& rec, BackupManifest& m, bool full, std::uint64_t bwlimitMib,
                    OperationContext* op);

  Store& store_;
  VmService& vms_;
  Engine& engine_;
  EventBus& events_;
  std::mutex mutex_;
  std::set<std::string> busy_;  // "<repo>/<vm>"
};

}  // namespace paddock
