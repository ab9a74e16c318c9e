// Helpers for tests with virtual networks: paddockd in a namespace of its own, commands run in
// guests through their consoles, and what the namespace holds.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/harness.h"

namespace paddock::test {

// Runs `command` in the guest's shell and returns its exit status (-1: no answer in time).
int guestRun(TestDaemon& d, const std::string& vm, const std::string& command,
             std::string* output = nullptr);
// The address the network's DHCP server leased to `mac` ("" if none).
std::string leaseIp(TestDaemon& d, const std::string& network, const std::string& mac);
// The links in the daemon's namespace that a paddockd made (bridges and TAPs), sorted.
std::vector<std::string> paddockLinks(TestDaemon& d);

// A fixture whose paddockd runs in a network namespace of its own (and checks that it does).
class NetnsDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  std::unique_ptr<TestDaemon> d_;
};

}  // namespace paddock::test
