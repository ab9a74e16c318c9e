// The body of POST /v1/apply: what `paddock apply` sends after parsing a directory file.
//
//   {"directory": name, "dry_run": bool,
//    "networks": [NetworkSpec JSON...],
//    "vms": [{"spec": VmSpec JSON, "state": "running"|"stopped"|null}]}
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "directory_file/directory_file.h"

namespace paddock {

struct DesiredDirectory {
  std::string name;
  bool managesNetworks = false;  // the request has "networks" (see DirectoryFile)
  std::vector<DesiredNetwork> networks;
  std::vector<DesiredVm> vms;
};

nlohmann::json toApplyRequest(const DirectoryFile& file, bool dryRun);
// The daemon's side of toApplyRequest. Strict: unknown fields, wrong types, invalid specs and
// duplicate names are invalid_argument errors whose field names the JSON path
// ("vms[1].spec.memory_mib", "networks[0].subnet"). A missing "networks" leaves networks alone. A
// spec without the directory label gets it; one with a different value is refused. The returned
// desired networks and VMs have line 0 and no fieldLines.
Result<DesiredDirectory> desiredFromApplyRequest(const nlohmann::json& request);

}  // namespace paddock
