// Helpers for tests with virtual networks: paddockd in a namespace of its own, commands run in
// guests through their consoles, and what the namespace holds.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace paddock::test {

// Runs `command` in the guest's shell and returns its exit status (-1: no answer in time);
// `output` gets what it printed (client/console_command), or why there was no answer.
int guestRun(TestDaemon& d, const std::string& vm, const std::string& command,
             std::string* output = nullptr,
             std::chrono::seconds timeout = std::chrono::seconds(40));
// Runs `command` in the guest and returns the seconds it took by the guest's clock; -1 if it
// failed or the guest did not answer.
double guestSeconds(TestDaemon& d, const std::string& vm, const std::string& command);
// The first `bytes` bytes of the guest's /dev/vda, read inside the guest (as the console shows
// them), and a write of `a` + `b` there; printf's %s keeps the written text out of the echoed
// command, so a match in the output is the data, not the command.
std::string guestDiskHead(TestDaemon& d, const std::string& vm, int bytes = 13);
void guestWriteDiskHead(TestDaemon& d, const std::string& vm, const std::string& a,
                        const std::string& b);
// The address the network's DHCP server leased to `mac` ("" if none).
std::string leaseIp(TestDaemon& d, const std::string& network, const std::string& mac);
// The links in the daemon's namespace that a paddockd made (bridges and TAPs), sorted.
std::vector<std::string> paddockLinks(TestDaemon& d);

// "The outside world" for NAT tests: a namespace behind a veth pair, 10.99.0.1 on the daemon's
// side (its default route points at the other end), 10.99.0.2 in the namespace with a web server
// ("outside-page") and a DNS server that knows one name, outside.test → 10.99.0.2.
class Outside {
 public:
  explicit Outside(TestDaemon& d);
  ~Outside();
  // Runs argv in the outside namespace.
  CommandOutput exec(std::vector<std::string> argv);
  const std::string& ns() const { return ns_; }

 private:
  TestDaemon& d_;
  std::string ns_;
};

// What the daemons of NetnsDaemonTest find in /etc/resolv.conf: the Outside's DNS server, so a
// test namespace never sends a query to the machine's real resolver.
inline constexpr const char* kTestResolvConf = "nameserver 10.99.0.2\n";

// A fixture whose paddockd runs in a network namespace of its own (and checks that it does).
class NetnsDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  std::unique_ptr<TestDaemon> d_;
};

}  // namespace paddock::test
