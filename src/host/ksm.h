// Kernel same-page merging, host-wide (/sys/kernel/mm/ksm): QEMU marks guest memory mergeable by
// default, so turning ksmd on is what makes identical guest pages shared.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace paddock::host {

struct KsmSettings {
  bool run = false;
  std::uint64_t pagesToScan = 100;    // pages ksmd looks at per wake-up
  std::uint64_t sleepMillisecs = 20;  // between wake-ups
};

// Turns ksmd on with the scan rate, or off; off also unmerges every shared page (run=2, then 0),
// so the memory is the guests' own again. `root` prefixes /sys (tests).
Status applyKsm(const KsmSettings& settings, const std::string& root = "");
Result<KsmSettings> readKsm(const std::string& root = "");

}  // namespace paddock::host
