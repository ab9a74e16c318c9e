// Backups: repositories (folders registered by name) holding, per VM, full and incremental
// backups of all its disks. A backup is a folder <repo>/<vm>/<id>/ with one qcow2 per disk (an
// incremental one has the previous backup's file as its backing file, so it holds only the
// blocks that changed) and manifest.json, written last: a folder without one is not a backup.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock {

// Store object kind of the repository registrations (name = repository name).
inline constexpr const char* kBackupRepoKind = "backup-repo";

struct BackupRepo {
  std::string name;
  std::string path;  // absolute
  int64_t createdAtMs = 0;
};

struct BackupDiskFile {
  std::string disk;  // the VM's disk name; the file is <disk>.qcow2
  std::uint64_t virtualSizeBytes = 0;
  std::uint64_t fileBytes = 0;  // size of the qcow2 file in the repository
  std::string sha256;           // of the qcow2 file, checked by verify
};

struct BackupManifest {
  int format = 1;
  std::string vm;
  std::string id;    // unique per VM: UTC time of the backup, "20261204-210512" (+"-2", ...)
  bool full = true;  // false: incremental on top of `parent`
  std::string parent;
  std::string vmState;  // running, paused or stopped when taken
  std::string bitmap;   // the dirty bitmap made at this backup's point in time
  std::string reason;   // why a full backup was taken when an incremental was possible
  int64_t createdAtMs = 0;
  int64_t durationMs = 0;
  nlohmann::json spec;  // the VM's definition (VmSpec JSON) when taken
  std::vector<BackupDiskFile> disks;

  std::uint64_t bytes() const;  // all disk files
};

nlohmann::json toJson(const BackupRepo& r);
Result<BackupRepo> backupRepoFromJson(const nlohmann::json& j);
nlohmann::json toJson(const BackupManifest& m);
Result<BackupManifest> backupManifestFromJson(const nlohmann::json& j);

// The bitmap name a backup of repository `repo` makes: "paddock-backup:<repo>:<id>" (a colon
// cannot occur in a repository name, so one repository's prefix never matches another's).
std::string backupBitmapName(const std::string& repo, const std::string& id);
inline std::string backupBitmapPrefix(const std::string& repo) {
  return "paddock-backup:" + repo + ":";
}
// Every bitmap Paddock makes starts with this.
inline constexpr const char* kBackupBitmapPrefix = "paddock-backup:";

}  // namespace paddock
