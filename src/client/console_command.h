// Running a command in a guest's root shell on its serial console and getting its output and
// exit status: over any byte link to the console (paddockd's console WebSocket, or a QEMU serial
// socket), or straight on a VM of a paddockd. The guest must give a shell there (the debian
// image logs root in on ttyS0; the tiny image runs one).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "client/paddock_client.h"
#include "common/result.h"

namespace paddock {

class ConsoleLink {
 public:
  virtual ~ConsoleLink() = default;
  virtual bool send(std::string_view bytes) = 0;
  // The next bytes from the guest; nullopt once the link is closed or `until` has passed.
  virtual std::optional<std::string> receive(std::chrono::steady_clock::time_point until) = 0;
  virtual void close() = 0;
};

struct ConsoleResult {
  int status = -1;
  std::string output;  // what it printed after its echo, up to the end marker
};

// Types `command` and waits for its end. The end marker is unique per call in this process, and
// only the command's end prints it (its echo shows `$((1))` where the end shows 1). `command`
// must not end in `&`.
Result<ConsoleResult> runInConsole(ConsoleLink& link, const std::string& command,
                                   std::chrono::steady_clock::time_point deadline);

// The same on VM `vm`'s console through paddockd, once this session is the console's writer (a
// console has one; the previous session may hold it for a moment).
Result<ConsoleResult> runOnVmConsole(PaddockClient& client, const std::string& vm,
                                     const std::string& command, std::chrono::seconds timeout);

}  // namespace paddock
