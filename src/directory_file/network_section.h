// The `networks:` section of a directory file: one NetworkSpec per entry, keyed by name.
//
//   networks:
//     lan:  {kind: nat, subnet: 10.7.0.0/24, forwards: [tcp:8080:web1:80], description: front}
//     back: {subnet: 10.8.0.0/24, dhcp_range: 10.8.0.50-10.8.0.99, port_groups: [{name: db,
//            vlan: 20}]}
//     seg:  {kind: bridge, uplink: eth1}
//
// Fields are NetworkSpec's JSON ones, except `dhcp_range: A-B` for dhcp_start and dhcp_end (as on
// the command line). `kind` defaults to internal.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "directory_file/directory_file.h"
#include "directory_file/yaml_reader.h"

namespace paddock {

// Parses the section's map; every network gets the directory label. Errors are located like the
// VMs' ("networks.lan.subnet").
Result<std::vector<DesiredNetwork>> parseNetworkSection(const YamlReader& in, const Entry& section,
                                                        const std::string& directory);

// Checks a network as the daemon will once it has filled the defaults. An empty subnet of an
// internal or nat network stands for whatever free subnet the daemon picks, so it may not come
// with a DHCP range (the range could not be known to fit). Errors carry the JSON field.
Status validateDesiredNetwork(const NetworkSpec& spec);

}  // namespace paddock
