// The directory file: z/VM's USER DIRECT with PROFILE/INCLUDE, as YAML. It declares the VMs one
// directory manages; `paddock apply` makes the daemon's VMs match it.
//
//   directory: lab            # optional; defaults to the file's base name without extension
//   profiles:
//     small: {vcpus: 1, memory: 256M, image: tiny, disks: [{name: root, size: 1G}]}
//     big:   {include: small, memory: 1G}
//   vms:
//     web1: {include: small, description: front end, state: running}
//
// Merging: a VM (or profile) starts from the profile it includes, then its own fields replace the
// inherited ones. Lists (disks) are replaced whole, never merged, so a VM can drop a profile's
// disk; labels are merged key by key, so a VM can add one label without repeating the profile's.
//
// Every error is one line, `<file>:<line>: <yaml path>: <message>` (the path is left out when there
// is none, e.g. for YAML syntax errors), so editors can jump to it:
//   site.yaml:12: vms.web1.memory: memory must be at least 16M (got 0M)
// Error.field carries the YAML path too ("vms.web1.memory").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/vm_spec.h"
#include "model/vm_state.h"

namespace paddock {

// The label that marks a VM as managed by a directory; apply only ever deletes VMs carrying it.
inline constexpr const char* kDirectoryLabel = "paddock.directory";

struct DesiredVm {
  VmSpec spec;                   // labels include kDirectoryLabel = the directory's name
  std::optional<VmState> state;  // running or stopped; nullopt leaves the power state alone
  int line = 0;                  // 1-based line of the VM's key; 0 when not from a file
  // JSON field name ("memory_mib", "disks", "disks[1].size_mib", "labels.tier") -> line that set
  // it, including lines inherited from a profile. Empty when not from a file.
  std::map<std::string, int> fieldLines;
};

struct DirectoryFile {
  std::string name;  // the directory's name, also the kDirectoryLabel value
  std::string path;
  std::vector<DesiredVm> vms;  // in file order
};

// Reads and parses a directory file. A missing `vms` key is an error (write `vms: {}` to really
// manage zero VMs), because an emptied file would otherwise delete every VM of the directory.
Result<DirectoryFile> parseDirectoryFile(const std::string& path);
// Same, from text; `pathForMessages` is used in error messages and for the default name.
Result<DirectoryFile> parseDirectoryText(const std::string& text,
                                         const std::string& pathForMessages);

// {"directory": name, "dry_run": bool, "vms": [{"spec": {...}, "state": "running"|"stopped"|null}]}
nlohmann::json toApplyRequest(const DirectoryFile& file, bool dryRun);
// The daemon's side of toApplyRequest. Strict: unknown fields, wrong types, invalid specs and
// duplicate VM names are invalid_argument errors whose field names the JSON path
// ("vms[1].spec.memory_mib"). A spec without the directory label gets it; one with a different
// value is refused. The returned DesiredVms have line 0 and no fieldLines.
Result<std::pair<std::string, std::vector<DesiredVm>>> desiredFromApplyRequest(
    const nlohmann::json& request);

}  // namespace paddock
