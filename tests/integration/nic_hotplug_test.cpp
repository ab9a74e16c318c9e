// NICs plugged into and out of running guests, on real bridges, TAPs and dnsmasq, inside a
// network namespace of the test's own.
#include <unistd.h>

#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "http/http_client.h"
#include "http/websocket.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The addresses of every "PADDOCK-NET <iface> ip=A/P via=dhcp" line in the VM's console log.
std::vector<std::string> netLines(TestDaemon& d, const std::string& vm, const std::string& iface) {
  auto log = d.cli({"vm", "console", vm, "--log"});
  std::regex line("PADDOCK-NET " + iface + R"( ip=([0-9.]+)/\d+ via=dhcp)");
  std::vector<std::string> ips;
  for (std::sregex_iterator it(log.out.begin(), log.out.end(), line), end; it != end; ++it)
    ips.push_back((*it)[1]);
  return ips;
}

// Waits for one more PADDOCK-NET line than `before` and returns its address ("" if none came).
std::string nextNetLine(TestDaemon& d, const std::string& vm, const std::string& iface,
                        size_t before, std::chrono::milliseconds timeout = 30s) {
  std::vector<std::string> ips;
  waitFor(
      [&] {
        ips = netLines(d, vm, iface);
        return ips.size() > before;
      },
      timeout);
  return ips.size() > before ? ips.back() : "";
}

std::string consoleLog(TestDaemon& d, const std::string& vm) {
  return d.cli({"vm", "console", vm, "--log"}).out;
}

class NicHotplug : public NetnsDaemonTest {};

TEST_F(NicHotplug, APluggedNicGetsALeaseAndReachesAPeerAndUnpluggingRemovesItAndItsTap) {
  auto& d = *d_;
  ASSERT_EQ(d.cli({"network", "create", "lan", "--subnet", "10.91.0.0/24"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "plug", "--memory", "128M"}).code, 0);
  ASSERT_EQ(
      d.cli({"vm", "create", "peer", "--memory", "128M", "--nic", "network=lan,ip=10.91.0.20"})
          .code,
      0);
  auto started = d.cli({"vm", "start", "--wait-ready", "plug", "peer"});
  ASSERT_EQ(started.code, 0) << started.err;
  auto linksBefore = paddockLinks(d);  // the bridge and peer's TAP

  auto added = d.cli({"vm", "nic", "add", "plug", "--network", "lan"});
  ASSERT_EQ(added.code, 0) << added.err;
  auto vm = d.vm("plug");
  ASSERT_EQ(vm["nics"].size(), 1u);
  EXPECT_EQ(vm["state"], "running");
  std::string mac = vm["nics"][0]["mac"];
  EXPECT_EQ(paddockLinks(d).size(), linksBefore.size() + 1) << "no TAP for the plugged NIC";

  std::string ip = nextNetLine(d, "plug", "eth0", 0);
  ASSERT_FALSE(ip.empty()) << "the guest did not configure the plugged NIC: "
                           << consoleLog(d, "plug");
  EXPECT_EQ(ip.substr(0, 8), "10.91.0.");
  ASSERT_TRUE(waitFor([&] { return leaseIp(d, "lan", mac) == ip; }, 10s))
      << "lease of " << mac << ": '" << leaseIp(d, "lan", mac) << "'";
  std::string out;
  EXPECT_EQ(guestRun(d, "peer", "ping -c 2 -W 2 " + ip, &out), 0) << out;

  auto removed = d.cli({"vm", "nic", "remove", "plug", "0"});
  ASSERT_EQ(removed.code, 0) << removed.err;
  EXPECT_TRUE(d.vm("plug")["nics"].empty());
  EXPECT_EQ(d.vm("plug")["state"], "running");
  EXPECT_EQ(guestRun(d, "plug", "[ ! -e /sys/class/net/eth0 ]", &out), 0) << out;
  EXPECT_EQ(paddockLinks(d), linksBefore) << "the TAP of the removed NIC is still there";
  EXPECT_NE(guestRun(d, "peer", "ping -c 1 -W 1 " + ip, &out), 0) << out;

  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  auto events = raw.request("GET", "/v1/events?follow=false");
  ASSERT_TRUE(events.ok());
  for (const char* type : {"vm.nic_added", "vm.nic_removed"}) {
    bool found = false;
    std::istringstream in(events->body);
    for (std::string line; std::getline(in, line);)
      if (line.find(type) != std::string::npos && line.find(mac) != std::string::npos &&
          line.find("\"live\":true") != std::string::npos)
        found = true;
    EXPECT_TRUE(found) << type << " missing: " << events->body;
  }

  // A NIC plugged with a reservation gets the reserved address from its very first lease.
  auto reserved = d.cli({"vm", "nic", "add", "plug", "--network", "lan", "--ip", "10.91.0.30"});
  ASSERT_EQ(reserved.code, 0) << reserved.err;
  EXPECT_EQ(nextNetLine(d, "plug", "eth0", 1), "10.91.0.30") << consoleLog(d, "plug");
}

TEST_F(NicHotplug, APluggedNicStaysOverARestartAndAnAdoptedVmStillPlugsAndUnplugs) {
  auto& d = *d_;
  ASSERT_EQ(d.cli({"network", "create", "lan", "--subnet", "10.92.0.0/24"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "keep", "--memory", "128M"}).code, 0);
  d.startVm("keep");
  ASSERT_EQ(d.cli({"vm", "nic", "add", "keep", "--network", "lan"}).code, 0);
  ASSERT_FALSE(nextNetLine(d, "keep", "eth0", 0).empty()) << consoleLog(d, "keep");
  std::string mac = d.vm("keep")["nics"][0]["mac"];

  // It is in the spec, so the next start has it from boot.
  ASSERT_EQ(d.cli({"vm", "stop", "keep"}).code, 0);
  size_t before = netLines(d, "keep", "eth0").size();
  d.startVm("keep");
  ASSERT_EQ(d.vm("keep")["nics"].size(), 1u);
  EXPECT_EQ(d.vm("keep")["nics"][0]["mac"], mac);
  std::string out;
  EXPECT_EQ(guestRun(d, "keep", "cat /sys/class/net/eth0/address", &out), 0) << out;
  EXPECT_NE(out.find(mac), std::string::npos) << out;
  EXPECT_FALSE(nextNetLine(d, "keep", "eth0", before).empty()) << consoleLog(d, "keep");

  // A new paddockd adopts the VM and finds the used and free ports in QEMU: the boot NIC can be
  // unplugged, and two more plugged.
  d.kill9();
  d.start();
  ASSERT_EQ(d.vm("keep")["state"], "running");
  auto removed = d.cli({"vm", "nic", "remove", "keep", mac});
  ASSERT_EQ(removed.code, 0) << removed.err;
  EXPECT_EQ(guestRun(d, "keep", "[ ! -e /sys/class/net/eth0 ]", &out), 0) << out;
  before = netLines(d, "keep", "eth0").size();
  size_t before1 = netLines(d, "keep", "eth1").size();
  ASSERT_EQ(d.cli({"vm", "nic", "add", "keep", "--network", "lan"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "nic", "add", "keep", "--network", "lan"}).code, 0);
  EXPECT_EQ(d.vm("keep")["nics"].size(), 2u);
  EXPECT_FALSE(nextNetLine(d, "keep", "eth0", before).empty()) << consoleLog(d, "keep");
  EXPECT_FALSE(nextNetLine(d, "keep", "eth1", before1).empty()) << consoleLog(d, "keep");
}

TEST_F(NicHotplug, ANicOnAMissingNetworkIsRefusedAndChangesNothing) {
  auto& d = *d_;
  ASSERT_EQ(d.cli({"network", "create", "lan", "--subnet", "10.93.0.0/24"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "strict", "--memory", "128M", "--nic", "lan"}).code, 0);
  d.startVm("strict");
  auto before = d.vm("strict");
  auto links = paddockLinks(d);

  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  json nics = before["nics"];
  nics.push_back({{"network", "ghost"}});
  auto r = raw.request("PATCH", "/v1/vms/strict", json{{"nics", nics}}.dump());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("network 'ghost' does not exist"), std::string::npos) << r->body;
  auto cli = d.cli({"vm", "nic", "add", "strict", "--network", "ghost"});
  EXPECT_NE(cli.code, 0);

  auto after = d.vm("strict");
  EXPECT_EQ(after["nics"], before["nics"]);
  EXPECT_EQ(after["state"], "running");
  EXPECT_EQ(paddockLinks(d), links);
  std::string out;
  EXPECT_EQ(guestRun(d, "strict", "[ ! -e /sys/class/net/eth1 ]", &out), 0) << out;
  auto events = raw.request("GET", "/v1/events?follow=false");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->body.find("vm.nic_added"), std::string::npos) << events->body;
}

}  // namespace
}  // namespace paddock::test
