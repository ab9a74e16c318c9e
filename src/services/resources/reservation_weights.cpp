#include "services/resources/reservation_weights.h"

#include <algorithm>
#include <cmath>

#include "host/cgroups.h"

namespace paddock {

std::map<std::string, int> reservationWeights(const std::vector<WeightRequest>& vms, int hostCpus) {
  std::map<std::string, double> w;
  for (const auto& v : vms) w[v.vm] = v.shares > 0 ? v.shares : host::kDefaultShares;
  if (hostCpus > 0) {
    // Raising one weight can only raise the others' needs, so the iteration climbs monotonically
    // to the smallest weights that honour every reservation (or to the cap).
    for (int round = 0; round < 100; ++round) {
      double total = 0;
      for (const auto& [vm, weight] : w) total += weight;
      bool changed = false;
      for (const auto& v : vms) {
        double f = std::min(v.reservedCpus / hostCpus, 1.0);
        if (f <= 0) continue;
        double others = total - w[v.vm];
        double need = f >= 1.0 ? host::kMaxShares : std::ceil(f / (1.0 - f) * others);
        need = std::min<double>(need, host::kMaxShares);
        if (need > w[v.vm]) {
          total += need - w[v.vm];
          w[v.vm] = need;
          changed = true;
        }
      }
      if (!changed) break;
    }
  }
  std::map<std::string, int> out;
  for (const auto& [vm, weight] : w) out[vm] = static_cast<int>(weight);
  return out;
}

}  // namespace paddock
