// Names of the host objects one paddockd creates. Linux interface names have at most 15
// characters, so they are derived by hashing; the daemon tag (from the state dir) keeps two
// daemons in one network namespace apart and lets each find its own leftovers.
#pragma once

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "common/hash.h"

namespace paddock {

class HostNames {
 public:
  explicit HostNames(const std::string& stateDir)
      : tag_(fmt::format("pd{:04x}", fnv1a(stateDir) & 0xffff)) {}
  // "pdXXXX": every link this daemon creates starts with it.
  const std::string& prefix() const { return tag_; }
  std::string bridge(const std::string& network) const {
    return fmt::format("{}b{:08x}", tag_, fnv1a(network));
  }
  // Keyed by the NIC's MAC (unique on the host), so a NIC keeps its TAP when others come and go.
  std::string tap(const std::string& mac) const {
    return fmt::format("{}t{:08x}", tag_, fnv1a(mac));
  }
  std::string natTablePrefix() const { return "paddock_" + tag_ + "_"; }
  std::string natTable(const std::string& network) const {
    return fmt::format("{}{:08x}", natTablePrefix(), fnv1a(network));
  }

 private:
  std::string tag_;
};

}  // namespace paddock
