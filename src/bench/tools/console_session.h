// Running a command in a guest's root shell on its serial console, over any byte link to it
// (paddockd's console WebSocket, or a QEMU serial socket), and getting its output and status.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace paddock::bench {

class ConsoleLink {
 public:
  virtual ~ConsoleLink() = default;
  virtual bool send(std::string_view bytes) = 0;
  // The next bytes from the guest; nullopt once the link is closed or `until` has passed.
  virtual std::optional<std::string> receive(std::chrono::steady_clock::time_point until) = 0;
  virtual void close() = 0;
};

// Types `command` and waits for its end: (exit status, what it printed after its echo). `serial`
// makes the end marker unique per command.
Result<std::pair<int, std::string>> runInConsole(ConsoleLink& link, const std::string& command,
                                                 std::chrono::steady_clock::time_point deadline,
                                                 int serial);

// Runs the image's /usr/local/lib/paddock-bench/xen-2004.sh WORKLOAD PROFILE through `console`
// (one command in the guest's shell, within a timeout): its stdout, or its exit status and last
// line of stderr as the error.
using ConsoleCommand =
    std::function<Result<std::pair<int, std::string>>(const std::string&, std::chrono::seconds)>;
Result<std::string> runGuestWorkload(const ConsoleCommand& console, const std::string& workload,
                                     const std::string& profile, std::chrono::seconds timeout);

// A link to a QEMU serial chardev socket (`-serial unix:PATH,server=on,wait=off`).
Result<std::unique_ptr<ConsoleLink>> unixConsole(const std::string& path);

}  // namespace paddock::bench
