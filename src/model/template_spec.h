// A template: a stopped VM's definition and a read-only copy of its disks, from which new VMs
// are deployed as linked clones (qcow2 overlays on the template's disks) or full copies.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/vm_spec.h"

namespace paddock {

struct TemplateRecord {
  std::string name;
  std::string description;
  std::string sourceVm;  // the VM it was made from
  VmSpec vm;             // that VM's definition when the template was made (MACs cleared)
  int64_t createdAtMs = 0;
};

nlohmann::json toJson(const TemplateRecord& t);
Result<TemplateRecord> templateFromJson(const nlohmann::json& j);

// What a deployment may change of the template's definition: "vcpus", "memory_mib", "nics",
// "cmdline", "description", "labels", "resources", "accel". Anything else (disks, the boot
// image) comes from the template; naming it is an error naming the field.
Status applyDeployOverrides(VmSpec& spec, const nlohmann::json& overrides);

}  // namespace paddock
