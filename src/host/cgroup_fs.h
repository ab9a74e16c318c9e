// Reading and writing one mounted cgroup hierarchy (a v1 controller's, or the v2 one), with
// errno turned into Errc and one-line messages. Internal to the cgroup implementations.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace paddock::host {

// Paths are relative to the mount ("" is the mount itself). A plain directory (not a cgroup
// filesystem) stands in for a mount in tests, with three differences the kernel would otherwise
// provide: control files are created when written, a missing control file reads as empty, and
// removing a group removes the files in it.
class CgroupFs {
 public:
  explicit CgroupFs(std::string mount);

  const std::string& mount() const { return mount_; }
  std::string path(const std::string& rel, const std::string& file = {}) const;
  bool isDir(const std::string& rel) const;
  bool hasFile(const std::string& rel, const std::string& file) const;

  // The file's content without trailing whitespace.
  Result<std::string> read(const std::string& rel, const std::string& file) const;
  // One write(2) of `value`; EINVAL becomes invalid_argument naming `field`, EBUSY conflict.
  Status write(const std::string& rel, const std::string& file, const std::string& value,
               const std::string& field = {}) const;
  // Creates the group; true if it was created now, false if it existed.
  Result<bool> makeGroup(const std::string& rel) const;
  // Removes a group that has no child groups; succeeds if it is gone already. Retries for a
  // moment while the kernel still counts exiting tasks in it.
  Status removeGroup(const std::string& rel) const;
  std::vector<std::string> childGroups(const std::string& rel) const;
  // The ids listed in a cgroup.procs / tasks / cgroup.threads file (none if it is missing).
  std::vector<pid_t> ids(const std::string& rel, const std::string& file) const;

 private:
  std::string mount_;
  bool plain_ = false;
};

// "a/b/c" → "a/b"; "a" → "".
std::string parentOf(const std::string& rel);
// `rel` joined with `name`, for rel "" just `name`.
std::string joinRel(const std::string& rel, const std::string& name);
// "a/b/c" → {"a", "a/b", "a/b/c"}.
std::vector<std::string> pathPrefixes(const std::string& rel);

// `st`, with "; <hint>" added to its message if it failed with `code`.
Status withHint(Status st, Errc code, const std::string& hint);

}  // namespace paddock::host
