// One backup repository on disk: <root>/<vm>/<id>/ holds a backup (its disks' qcow2 files and
// manifest.json); <root>/<vm>/.partial-<id>/ is one being made. Committing writes the manifest
// (with every file's size and SHA-256) and renames the folder, both fsynced, so a crash at any
// point leaves either no backup or a whole one.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/backup.h"

namespace paddock {

struct BackupCheck {
  std::string vm;
  std::string id;
  bool ok = false;
  std::string problem;  // why not, when !ok
};

struct RepoSpace {
  std::uint64_t freeBytes = 0;
  std::uint64_t totalBytes = 0;
};

class BackupRepository {
 public:
  explicit BackupRepository(std::string root) : root_(std::move(root)) {}

  // Makes `path` if missing and checks that files can be written there.
  static Status checkUsable(const std::string& path);

  const std::string& root() const { return root_; }
  std::string dir(const std::string& vm, const std::string& id) const;
  std::string partialDir(const std::string& vm, const std::string& id) const;
  // A fresh id for a backup of `vm` taken at `ms`.
  std::string newId(const std::string& vm, int64_t ms) const;

  // The VMs with backups here, and their backups, oldest first. A folder whose manifest cannot
  // be read is left out (verify reports it).
  std::vector<std::string> vms() const;
  Result<std::vector<BackupManifest>> list(const std::string& vm) const;
  Result<BackupManifest> get(const std::string& vm, const std::string& id) const;

  // Fills the manifest's file sizes and checksums from the partial folder's files, writes the
  // manifest and makes the backup visible.
  Status commit(BackupManifest& m) const;
  Status remove(const std::string& vm, const std::string& id) const;
  // Removes partial folders (a backup interrupted by a crash); returns how many.
  int cleanPartial() const;

  // Checks backups of `vm` (all of them when `id` is empty): manifest readable, every file
  // there with its recorded size and SHA-256, qcow2 structure sound, parent chain whole.
  Result<std::vector<BackupCheck>> verify(const std::string& vm, const std::string& id) const;

  Result<RepoSpace> space() const;

 private:
  BackupCheck check(const std::string& vm, const std::string& id,
                    std::map<std::string, BackupCheck>& done) const;
  std::vector<std::string> backupIds(const std::string& vm) const;

  std::string root_;
};

// SHA-256 of a file's bytes, as lower-case hex.
Result<std::string> sha256File(const std::string& path);

}  // namespace paddock
