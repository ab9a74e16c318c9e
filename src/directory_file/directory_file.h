// The directory file: z/VM's USER DIRECT with PROFILE/INCLUDE, as YAML. It declares the networks
// and VMs one directory manages; `paddock apply` makes the daemon's match it.
//
//   directory: lab            # optional; defaults to the file's base name without extension
//   networks:                 # optional; NetworkSpec fields, `dhcp_range: A-B` for start and end
//     lan: {kind: nat, subnet: 10.7.0.0/24, forwards: [tcp:8080:web1:80]}
//   profiles:
//     small: {vcpus: 1, memory: 256M, image: tiny, disks: [{name: root, size: 1G}]}
//     big:   {include: small, memory: 1G}
//   vms:
//     web1: {include: small, description: front end, state: running,
//            resources: {cpu_limit: 0.5, balloon: 192M}}
//
// `resources:` holds ResourceSpec's fields, sizes written like `memory:` (memory_limit: 1G for
// memory_limit_mib) and disk limits as rates (see resources_section.h).
//
// Merging: a VM (or profile) starts from the profile it includes, then its own fields replace the
// inherited ones. Lists (disks, nics, resources.cpus) are replaced whole, never merged, so a VM
// can drop a profile's disk; labels and resources are merged key by key, so a VM can add one
// label or change one resource control without repeating the profile's. resources.disk_limits
// merges disk by disk, and each disk's limits are replaced whole (`data: {}` lifts a profile's
// limits on disk data). To undo an inherited control, write its default (cpu_limit: 0,
// balloon: 0, cpus: []).
//
// Every error is one line, `<file>:<line>: <yaml path>: <message>` (the path is left out when there
// is none, e.g. for YAML syntax errors), so editors can jump to it:
//   site.yaml:12: vms.web1.memory: memory must be at least 16M (got 0M)
//   site.yaml:14: vms.web1.resources.cpu_shares: cpu_shares must be a whole number of at least 0
// Error.field carries the YAML path too ("vms.web1.memory").
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/network_spec.h"
#include "model/vm_spec.h"
#include "model/vm_state.h"

namespace paddock {

// The label that marks a VM or network as managed by a directory; apply only ever deletes those
// carrying it.
inline constexpr const char* kDirectoryLabel = "paddock.directory";

struct DesiredVm {
  VmSpec spec;                   // labels include kDirectoryLabel = the directory's name
  std::optional<VmState> state;  // running or stopped; nullopt leaves the power state alone
  int line = 0;                  // 1-based line of the VM's key; 0 when not from a file
  // JSON field name ("memory_mib", "disks", "disks[1].size_mib", "labels.tier",
  // "resources.balloon_mib") -> line that set it, including lines inherited from a profile. Empty
  // when not from a file.
  std::map<std::string, int> fieldLines;
};

struct DesiredNetwork {
  NetworkSpec spec;  // as written (empty fields are filled by the daemon); labels include
                     // kDirectoryLabel = the directory's name
  int line = 0;      // 1-based line of the network's key; 0 when not from a file
  // JSON field name ("subnet", "dhcp_start", "port_groups[0].vlan", "forwards[1]") -> line that
  // set it. Empty when not from a file.
  std::map<std::string, int> fieldLines;
};

struct DirectoryFile {
  std::string name;  // the directory's name, also the kDirectoryLabel value
  std::string path;
  // Whether the file has a `networks:` key. Without one the directory leaves networks alone
  // (creates none, deletes none); `networks: {}` manages zero networks.
  bool managesNetworks = false;
  std::vector<DesiredNetwork> networks;  // in file order
  std::vector<DesiredVm> vms;            // in file order
};

// Reads and parses a directory file. A missing `vms` key is an error (write `vms: {}` to really
// manage zero VMs), because an emptied file would otherwise delete every VM of the directory.
Result<DirectoryFile> parseDirectoryFile(const std::string& path);
// Same, from text; `pathForMessages` is used in error messages and for the default name.
Result<DirectoryFile> parseDirectoryText(const std::string& text,
                                         const std::string& pathForMessages);

}  // namespace paddock
