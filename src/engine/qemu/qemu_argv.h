// Builds the qemu-system-x86_64 command line for a LaunchSpec. Pure: tested against expected argv.
#pragma once

#include <string>
#include <vector>

#include "engine/launch_spec.h"

namespace paddock {

inline constexpr const char* kQemuBinary = "qemu-system-x86_64";

// Boot NICs go on the PCIe root ports hp0, hp1, ... in order; the rest stay free for hot-plug.
std::vector<std::string> buildQemuArgv(const LaunchSpec& spec);

// QEMU option values escape a comma by doubling it.
std::string qemuOptEscape(const std::string& s);

// A host as QEMU's tcp: URIs take it (an IPv6 address in brackets).
std::string uriHost(const std::string& host);

}  // namespace paddock
