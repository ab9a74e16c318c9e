// Names of VMs, disks and profiles: they become file names, URL segments and guest host names.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace paddock {

inline constexpr size_t kMaxNameLength = 63;

// A DNS label: 1-63 of [a-z0-9-], starting with a letter, not ending with '-'. `what` names the
// kind of object ("VM name") for the error message.
Status validateName(std::string_view name, std::string_view what);

// A Linux interface name: 1-15 characters, no whitespace, '/', ':', quotes or backslashes.
bool validIfname(const std::string& name);

}  // namespace paddock
