// The suite's workloads in a guest: run through its serial console (client/console_command), and
// a link to a QEMU serial socket for the guest paddock-bench starts itself.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "client/console_command.h"
#include "common/result.h"

namespace paddock::bench {

// Runs the image's /usr/local/lib/paddock-bench/xen-2004.sh WORKLOAD PROFILE through `console`
// (one command in the guest's shell, within a timeout): its stdout, or its exit status and last
// line of stderr as the error. `peer` is the host's iperf3 server (ADDRESS:PORT) for ttcp.
using ConsoleCommand =
    std::function<Result<ConsoleResult>(const std::string&, std::chrono::seconds)>;
Result<std::string> runGuestWorkload(const ConsoleCommand& console, const std::string& workload,
                                     const std::string& profile, std::chrono::seconds timeout,
                                     const std::string& peer = "");

// A link to a QEMU serial chardev socket (`-serial unix:PATH,server=on,wait=off`).
Result<std::unique_ptr<ConsoleLink>> unixConsole(const std::string& path);

}  // namespace paddock::bench
