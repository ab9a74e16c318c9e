#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace paddock {

// Wall-clock time in milliseconds since the epoch, as stored and shown in the API.
int64_t nowMs();
// RFC 3339 UTC with milliseconds, e.g. 2026-11-22T00:14:03.123Z; empty for 0.
std::string formatTimeMs(int64_t ms);

}  // namespace paddock
