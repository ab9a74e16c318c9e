// Free TCP ports for the servers the benchmarks start (iperf3, the web-hosting workload).
#pragma once

#include <string>

#include "common/result.h"

namespace paddock::bench {

// A port P such that P .. P + count - 1 are all free on `address` (an IPv4 address of this
// network namespace) now, for servers started a moment later. The web-hosting server takes
// two: nginx on P and its dynamic handler on P + 1.
Result<int> freeTcpPorts(const std::string& address, int count = 1);

}  // namespace paddock::bench
