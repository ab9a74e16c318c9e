// The `resources:` map of a VM or profile in a directory file: ResourceSpec's JSON fields, with
// sizes and rates written as people write them.
//
//   resources:
//     cpu_shares: 2000
//     cpu_limit: 0.5
//     cpus: [0, 1]
//     dedicate: true
//     latency: high
//     memory_limit: 1G                           # memory_limit_mib
//     balloon: 192M                              # balloon_mib
//     disk_limits:
//       data: {write_bps: 1M, read_iops: 200}
//
// The mapping is generic, so a field added to ResourceSpec (to resourceSpecFromJson and toJson)
// works here unchanged:
//  - a field whose JSON name ends in `_mib` is written without the suffix and takes a size
//    ("512M", "1G"; a bare number is MiB, as for `memory:`; 0 or off for none);
//  - every value under `disk_limits.DISK` and `nic_limits.MAC` takes a rate like the CLI's
//    --disk-limit ("1M" = 1048576, "2k" = 2048, "200"), but a disk's `group`, which is a name;
//  - any other value goes by its YAML type: whole numbers, other numbers, true/false, null,
//    strings (quoted ones always), and lists and maps of those.
// The known fields are those toJson(ResourceSpec) writes; values are judged by
// resourceSpecFromJson, so the rules are the API's.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "directory_file/yaml_reader.h"

namespace paddock {

// Parses the `resources:` entry `e` (YAML path `path`, e.g. "vms.web1.resources") into the JSON
// resourceSpecFromJson reads, holding only the fields written. `lines` gets the line of every
// field by JSON name: "resources", "resources.balloon_mib", "resources.disk_limits.data",
// "resources.disk_limits.data.write_bps".
Result<nlohmann::json> parseResources(const YamlReader& in, const Entry& e, const std::string& path,
                                      std::map<std::string, int>& lines);

// The YAML spelling of a ResourceSpec JSON field, for messages:
// "resources.balloon_mib" -> "resources.balloon"; other fields are returned as they are.
std::string resourceYamlField(const std::string& jsonField);

}  // namespace paddock
