// Free TCP ports on a local address, for servers started a moment later: QEMU's migration
// stream and NBD export on a migration's target, the benchmarks' iperf3 and web servers.
#pragma once

#include <string>

#include "common/result.h"

namespace paddock {

// A port P such that P .. P + count - 1 are all free on `address` (a numeric IPv4 or IPv6
// address of this network namespace; 0.0.0.0 or :: for all) now. They are let go before this
// returns: the caller's server binds them right after. Errors: invalid_argument for a name or
// a bad count, unavailable when the address is not this host's or no such range is free.
Result<int> freeTcpPorts(const std::string& address, int count = 1);

}  // namespace paddock
