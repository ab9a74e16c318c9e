// Builds the qemu-system-x86_64 command line for a LaunchSpec. Pure: tested against expected argv.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/launch_spec.h"

namespace paddock {

inline constexpr const char* kQemuBinary = "qemu-system-x86_64";

// Boot NICs go on the PCIe root ports hp0, hp1, ... in order; the rest stay free for hot-plug.
std::vector<std::string> buildQemuArgv(const LaunchSpec& spec);

// The -m value. Under TCG the guest gets 8 KiB less than memoryMib: QEMU before 9.0 loses guest
// writes in a live migration when the RAM block's size is a multiple of 256 KiB (its fast path
// clears the dirty bits but leaves TCG's TLB entries writable, so later writes to those pages
// are never sent; fixed upstream by "physmem: Fix migration dirty bitmap coherency with TCG
// memory access"). Any other size takes the page-by-page path, which does it right.
// See docs/migration.md "TCG and QEMU before 9.0".
std::string qemuMemorySize(std::uint64_t memoryMib, bool kvm);

// QEMU option values escape a comma by doubling it.
std::string qemuOptEscape(const std::string& s);

// A host as QEMU's tcp: URIs take it (an IPv6 address in brackets).
std::string uriHost(const std::string& host);

}  // namespace paddock
