// The networks part of a directory plan. Networks cannot be changed in place (there is no update),
// so each desired network is either created, unchanged, or an error naming what differs.
//   create     in the file, not on the host.
//   delete     carries this directory's label but is no longer in the file.
//   unchanged  matches the file, once the defaults the daemon fills are filled the same way; an
//              empty subnet of an internal or nat network in the file means "any", so it matches
//              whatever the daemon picked.
// Pure logic, no I/O, like the VM plan.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "directory_file/directory_file.h"
#include "model/network_spec.h"

namespace paddock {

enum class NetworkAction { create, delete_network, unchanged };
// "create", "delete", "unchanged".
const char* networkActionName(NetworkAction a);

struct NetworkStep {
  std::string network;
  NetworkAction action = NetworkAction::unchanged;
  // create: the spec to create, as in the file plus the directory label; otherwise the current one.
  NetworkSpec spec;
};

// One step per network of the directory, creates first, then deletes, then unchanged; by name
// within each. A desired network whose name is taken by a network without the directory's label
// is a conflict; one whose settings differ is unprocessable (the message lists the fields, the
// error's field is "networks.NAME.FIELD" with the JSON name of the first); duplicate desired
// names are invalid_argument.
Result<std::vector<NetworkStep>> planNetworks(const std::string& directory,
                                              const std::vector<DesiredNetwork>& desired,
                                              const std::vector<NetworkSpec>& current);

// "+ create network lan (nat, 10.7.0.0/24)", "- delete network old", "" for unchanged.
std::string formatNetworkStep(const NetworkStep& step);

}  // namespace paddock
