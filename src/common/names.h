// Names of VMs, disks and profiles: they become file names, URL segments and guest host names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace paddock {

inline constexpr size_t kMaxNameLength = 63;

// A DNS label: 1-63 of [a-z0-9-], starting with a letter, not ending with '-'. `what` names the
// kind of object ("VM name") for the error message.
Status validateName(std::string_view name, std::string_view what);

// A Linux interface name: 1-15 characters, no whitespace, '/', ':', quotes or backslashes.
bool validIfname(const std::string& name);

inline constexpr size_t kMaxNameRange = 1000;

// Bulk names: "web[1-20]" is web1 ... web20, "web[01-20]" keeps the width (web01 ... web20),
// "db[3-3]-a" is db3-a. A name without brackets is itself. At most kMaxNameRange names; a range
// that runs backwards, is not numeric or is malformed is an error.
Result<std::vector<std::string>> expandNameRange(std::string_view pattern);

}  // namespace paddock
