// The host's end of the ttcp workload: an `iperf3 -s` bound to one address (127.0.0.1 for
// native runs, the guest's gateway for guests) on a free port, for as long as a target lives.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"

namespace paddock::bench {

class IperfServer {
 public:
  IperfServer() = default;
  IperfServer(const IperfServer&) = delete;
  IperfServer& operator=(const IperfServer&) = delete;
  ~IperfServer() { stop(); }

  // Starts it on `address` (which must be one of this namespace's) and waits until it listens;
  // its log goes to `logPath`.
  Status start(const std::string& address, const std::string& logPath);
  // "ADDRESS:PORT", what the workload script gets as PADDOCK_BENCH_PEER; "" when not started.
  std::string endpoint() const;
  void stop();

 private:
  std::string address_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace paddock::bench
