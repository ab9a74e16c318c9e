// Rate limits on a VM's TAP device with tc (ESX traffic shaping, libvirt's <bandwidth>). Seen
// from the guest:
//   receive (host → guest) leaves the TAP: a tbf qdisc at its root queues and paces it;
//   transmit (guest → host) enters the TAP: an ingress qdisc with a matchall filter and a police
//   action drops what exceeds the rate (TCP backs off to it).
// Kernels without cls_matchall/act_police cannot limit transmit; that is Errc::unavailable with
// the reason, and receive limits still work.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace paddock::host {

struct TapRate {
  std::uint64_t rxBps = 0;  // bytes per second the guest receives; 0: none
  std::uint64_t txBps = 0;  // bytes per second the guest sends; 0: none
};

// Sets (or with 0, removes) both limits on `tap`. Idempotent. Errors name the field "rx_bps" or
// "tx_bps".
Status setTapRate(const std::string& tap, const TapRate& rate);

// The burst a rate gets: 50 ms worth, at least 16 KiB (a few full-size frames; tbf needs at least
// one MTU plus headroom, and a tiny burst would cap throughput far below the rate).
std::uint64_t burstBytes(std::uint64_t bps);

}  // namespace paddock::host
