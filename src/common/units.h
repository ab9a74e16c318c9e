// Human sizes ("512M", "2G", "1.5GiB"), rates ("1M", "200") and durations ("30s", "2m").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace paddock {

// Parses a size into MiB. A bare number means MiB (as Proxmox and `qemu -m` do); suffixes
// K/M/G/T (binary, with optional "i"/"iB"/"B") scale it. Results that are not whole MiB are
// refused.
Result<uint64_t> parseSizeMib(std::string_view text);

// Parses a rate in bytes or requests per second: a whole number with an optional binary K, M or G
// ("1M" = 1048576, "2k" = 2048, "500").
Result<uint64_t> parseRate(std::string_view text);

// "512M", "2G", "1.5G" for display.
std::string formatMib(uint64_t mib);

// Parses "90", "90s", "2m", "1h", "500ms" into milliseconds; a bare number means seconds.
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace paddock
