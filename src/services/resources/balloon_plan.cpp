#include "services/resources/balloon_plan.h"

#include <algorithm>

#include <fmt/format.h>

namespace paddock {

namespace {

// Smaller moves are not worth a QMP call and an event.
constexpr std::uint64_t kMinMoveMib = 4;

std::uint64_t stepMib(const OvercommitPolicy& p, const BalloonView& v) {
  return std::max<std::uint64_t>(
      kMinMoveMib, static_cast<std::uint64_t>(p.stepFraction * static_cast<double>(v.memoryMib)));
}

std::uint64_t idleMib(const OvercommitPolicy& p, const BalloonView& v) {
  if (!v.guestAvailableMib) return 0;  // a guest that reports nothing is left alone
  return *v.guestAvailableMib > p.guestKeepMib ? *v.guestAvailableMib - p.guestKeepMib : 0;
}

std::vector<BalloonDecision> reclaim(const OvercommitPolicy& p, std::uint64_t availableMib,
                                     std::vector<BalloonView> vms) {
  std::uint64_t need = p.highMib - availableMib;
  std::stable_sort(vms.begin(), vms.end(), [&](const BalloonView& a, const BalloonView& b) {
    return idleMib(p, a) > idleMib(p, b);
  });
  std::vector<BalloonDecision> out;
  for (const auto& v : vms) {
    if (need == 0) break;
    std::uint64_t floor = std::max(v.reservedMib, p.floorMib);
    if (v.currentMib <= floor || !v.settled) continue;
    std::uint64_t take = std::min({need, idleMib(p, v), v.currentMib - floor, stepMib(p, v)});
    if (take < kMinMoveMib) continue;
    out.push_back({v.vm, v.currentMib, v.currentMib - take,
                   fmt::format("host has {}M available, below {}M; the guest has {}M idle",
                               availableMib, p.lowMib, *v.guestAvailableMib)});
    need -= take;
  }
  return out;
}

std::vector<BalloonDecision> giveBack(const OvercommitPolicy& p, std::uint64_t availableMib,
                                      std::vector<BalloonView> vms) {
  std::uint64_t spare = availableMib - p.highMib;
  // The VMs that lost the largest part of their memory get theirs back first.
  auto lost = [](const BalloonView& v) {
    return v.ownerMib > v.currentMib
               ? static_cast<double>(v.ownerMib - v.currentMib) /
                     static_cast<double>(std::max<std::uint64_t>(1, v.memoryMib))
               : 0.0;
  };
  std::stable_sort(vms.begin(), vms.end(),
                   [&](const BalloonView& a, const BalloonView& b) { return lost(a) > lost(b); });
  std::vector<BalloonDecision> out;
  for (const auto& v : vms) {
    if (v.currentMib >= v.ownerMib) continue;
    std::uint64_t give = std::min({spare, v.ownerMib - v.currentMib, stepMib(p, v)});
    // The last few MiB go back too, or a VM would stay a little short for ever.
    if (give < kMinMoveMib && give < v.ownerMib - v.currentMib) continue;
    if (give == 0) break;
    out.push_back({v.vm, v.currentMib, v.currentMib + give,
                   fmt::format("host has {}M available, above {}M", availableMib, p.highMib)});
    spare -= give;
  }
  return out;
}

}  // namespace

std::vector<BalloonDecision> planBalloons(const OvercommitPolicy& policy,
                                          std::uint64_t hostAvailableMib,
                                          const std::vector<BalloonView>& vms) {
  if (policy.enabled && hostAvailableMib < policy.lowMib)
    return reclaim(policy, hostAvailableMib, vms);
  // Disabled, the manager still hands back what it took: the owner's targets are the truth.
  OvercommitPolicy p = policy;
  if (!policy.enabled) p.highMib = 0;
  if (hostAvailableMib > p.highMib) return giveBack(p, hostAvailableMib, vms);
  return {};
}

}  // namespace paddock
