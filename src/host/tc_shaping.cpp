#include "host/tc_shaping.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "host/host_command.h"

namespace paddock::host {

namespace {

// Deleting what is not there is fine: the goal is "no limit".
Status removeQdisc(const std::string& tap, const std::string& which) {
  auto out = runCommand({"tc", "qdisc", "del", "dev", tap, which});
  if (!out) return out.error();
  return {};
}

std::string bits(std::uint64_t bps) {
  return fmt::format("{}bit", bps * 8);
}

// Runs a tc command that must succeed; its error names `field`.
Status runTc(const std::vector<std::string>& argv, const std::string& what,
             const std::string& field) {
  auto out = runChecked(argv, what);
  if (out) return {};
  Error e = out.error();
  e.field = field;
  return e;
}

}  // namespace

std::uint64_t burstBytes(std::uint64_t bps) {
  return std::max<std::uint64_t>(16 * 1024, bps / 20);
}

Status setTapRate(const std::string& tap, const TapRate& rate) {
  if (!validIfname(tap))
    return makeError(Errc::invalid_argument, fmt::format("'{}' is not a device name", tap), "tap");
  if (rate.rxBps == 0) {
    PADDOCK_TRY(removeQdisc(tap, "root"));
  } else {
    auto burst = std::to_string(burstBytes(rate.rxBps));
    PADDOCK_TRY(runTc({"tc", "qdisc", "replace", "dev", tap, "root", "tbf", "rate",
                       bits(rate.rxBps), "burst", burst, "latency", "50ms"},
                      "cannot limit what " + tap + " receives", "rx_bps"));
  }
  if (rate.txBps == 0) return removeQdisc(tap, "ingress");
  PADDOCK_TRY(
      runTc({"tc", "qdisc", "replace", "dev", tap, "ingress"}, "cannot police " + tap, "tx_bps"));
  auto burst = std::to_string(burstBytes(rate.txBps));
  auto out =
      runCommand({"tc", "filter", "replace", "dev", tap, "parent", "ffff:", "prio", "1", "matchall",
                  "action", "police", "rate", bits(rate.txBps), "burst", burst, "drop"});
  if (!out) return makeError(out.error().code, out.error().message, "tx_bps");
  if (out->exitCode != 0) {
    (void)removeQdisc(tap, "ingress");
    return makeError(Errc::unavailable,
                     fmt::format("cannot limit what the guest sends on {}: this kernel has no tc "
                                 "matchall/police ({})",
                                 tap, firstLine(out->err)),
                     "tx_bps");
  }
  return {};
}

}  // namespace paddock::host
