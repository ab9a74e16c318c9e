// Builds the qemu-system-x86_64 command line for a LaunchSpec. Pure: tested against expected argv.
#pragma once

#include <string>
#include <vector>

#include "engine/launch_spec.h"

namespace paddock {

inline constexpr const char* kQemuBinary = "qemu-system-x86_64";

std::vector<std::string> buildQemuArgv(const LaunchSpec& spec);

}  // namespace paddock
