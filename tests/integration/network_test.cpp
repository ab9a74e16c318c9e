// Virtual networks with real bridges, TAPs, dnsmasq and guests, inside a network namespace of
// the test's own.
#include <signal.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/files.h"
#include "http/http_client.h"
#include "http/websocket.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class Networks : public NetnsDaemonTest {};

TEST_F(Networks, GuestsOnOneLanGetLeasesAndPingEachOtherButNotAnotherLan) {
  auto& d = *d_;
  ASSERT_EQ(d.cli({"network", "create", "lan1", "--subnet", "10.50.1.0/24"}).code, 0);
  ASSERT_EQ(d.cli({"network", "create", "lan2", "--subnet", "10.50.2.0/24"}).code, 0);
  ASSERT_EQ(
      d.cli({"vm", "create", "na", "--memory", "128M", "--nic", "network=lan1,ip=10.50.1.11"}).code,
      0);
  ASSERT_EQ(d.cli({"vm", "create", "nb", "--memory", "128M", "--nic", "lan1"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "nc", "--memory", "128M", "--nic", "lan2"}).code, 0);
  auto started = d.cli({"vm", "start", "--wait-ready", "na", "nb", "nc"});
  ASSERT_EQ(started.code, 0) << started.err;

  std::string macB = d.vm("nb")["nics"][0]["mac"];
  std::string macC = d.vm("nc")["nics"][0]["mac"];
  EXPECT_EQ(macB.substr(0, 9), "02:50:44:");
  std::string ipB, ipC;
  ASSERT_TRUE(waitFor(
      [&] {
        ipB = leaseIp(d, "lan1", macB);
        ipC = leaseIp(d, "lan2", macC);
        return !leaseIp(d, "lan1", d.vm("na")["nics"][0]["mac"]).empty() && !ipB.empty() &&
               !ipC.empty();
      },
      90s))
      << "no DHCP leases; console of nb: " << d.cli({"vm", "console", "nb", "--log"}).out;
  EXPECT_EQ(leaseIp(d, "lan1", d.vm("na")["nics"][0]["mac"]), "10.50.1.11");
  EXPECT_EQ(ipC.substr(0, 8), "10.50.2.");
  auto leases = d.cli({"network", "leases", "lan1"});
  EXPECT_NE(leases.out.find("10.50.1.11"), std::string::npos) << leases.out;

  std::string out;
  EXPECT_EQ(guestRun(d, "na", "ping -c 2 -W 2 " + ipB, &out), 0) << out;
  EXPECT_EQ(guestRun(d, "nb", "ping -c 2 -W 2 10.50.1.11", &out), 0) << out;
  // By name, through the network's DNS.
  EXPECT_EQ(guestRun(d, "nb", "ping -c 1 -W 2 na.lan1.paddock", &out), 0) << out;
  // Another LAN is out of reach.
  EXPECT_NE(guestRun(d, "nc", "ping -c 2 -W 2 10.50.1.11", &out), 0) << out;
  EXPECT_NE(guestRun(d, "na", "ping -c 2 -W 2 " + ipC, &out), 0) << out;

  // Traffic counters of the NIC moved.
  auto vm = d.vm("na");
  EXPECT_GT(vm["nic_stats"][0].value("tx_packets", uint64_t{0}), 0u) << vm["nic_stats"].dump();
  EXPECT_GT(vm["nic_stats"][0].value("rx_packets", uint64_t{0}), 0u);
}

TEST_F(Networks, BadInputChangesNothingOnTheHostOrInTheStore) {
  auto& d = *d_;
  ASSERT_EQ(d.cli({"network", "create", "base", "--subnet", "10.60.0.0/16"}).code, 0);
  d.createVm("user", {{"nics", {{{"network", "base"}, {"mac", "02:50:44:00:00:01"}}}}});
  auto linksBefore = paddockLinks(d);
  auto netsBefore = d.api().call("GET", "/v1/networks").value();
  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  auto expect = [&](const std::string& method, const std::string& path, const json& body,
                    int status, const std::string& words) {
    auto r = raw.request(method, path, body.is_null() ? "" : body.dump());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, status) << path << " " << body.dump() << " → " << r->body;
    EXPECT_NE(r->body.find(words), std::string::npos) << r->body;
  };
  expect("POST", "/v1/networks", {{"name", "over"}, {"subnet", "10.60.5.0/24"}}, 409, "overlaps");
  expect("POST", "/v1/networks",
         {{"name", "range"},
          {"subnet", "10.70.0.0/24"},
          {"dhcp_start", "10.70.1.10"},
          {"dhcp_end", "10.70.1.20"}},
         400, "outside the subnet");
  expect("POST", "/v1/networks",
         {{"name", "vlan"},
          {"subnet", "10.71.0.0/24"},
          {"port_groups", {{{"name", "pg"}, {"vlan", 5000}}}}},
         400, "outside 1–4094");
  expect("POST", "/v1/networks", {{"name", "base"}, {"subnet", "10.72.0.0/24"}}, 409,
         "already exists");
  expect("POST", "/v1/networks", {{"name", "br"}, {"kind", "bridge"}}, 400, "needs an uplink");
  expect("POST", "/v1/networks", {{"name", "br"}, {"kind", "bridge"}, {"uplink", "ghost0"}}, 400,
         "uplink interface 'ghost0' does not exist");
  expect("POST", "/v1/networks", {{"name", "up"}, {"uplink", "lo"}}, 400,
         "only bridge networks have an uplink");
  expect("POST", "/v1/networks",
         {{"name", "usr"}, {"kind", "user"}, {"port_groups", {{{"name", "pg"}, {"vlan", 5}}}}}, 400,
         "no port groups");
  expect("POST", "/v1/networks", {{"name", "k"}, {"kind", "wifi"}}, 400,
         "kind must be internal, nat, bridge or user");
  expect("DELETE", "/v1/networks/base", nullptr, 409, "still has NICs of VMs: user");
  expect("POST", "/v1/vms",
         {{"name", "dup"},
          {"image", "tiny"},
          {"nics", {{{"network", "base"}, {"mac", "02:50:44:00:00:01"}}}}},
         409, "already used by VM 'user'");
  expect("POST", "/v1/vms",
         {{"name", "badmac"},
          {"image", "tiny"},
          {"nics", {{{"network", "base"}, {"mac", "zz:50:44:00:00:01"}}}}},
         400, "is not a MAC address");
  expect("POST", "/v1/vms",
         {{"name", "nonet"}, {"image", "tiny"}, {"nics", {{{"network", "ghost"}}}}}, 400,
         "network 'ghost' does not exist");
  expect("POST", "/v1/vms",
         {{"name", "farip"},
          {"image", "tiny"},
          {"nics", {{{"network", "base"}, {"ip", "10.99.0.5"}}}}},
         400, "outside network 'base'");
  EXPECT_EQ(paddockLinks(d), linksBefore);
  EXPECT_EQ(d.api().call("GET", "/v1/networks").value(), netsBefore);
  EXPECT_EQ(d.api().call("GET", "/v1/vms").value()["vms"].size(), 1u);
}

TEST_F(Networks, DaemonAndDnsmasqCrashesLeaveNoLeaksAndLeasesSurvive) {
  auto& d = *d_;
  ASSERT_EQ(d.cli({"network", "create", "lan", "--subnet", "10.80.0.0/24"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "crashy", "--memory", "128M", "--nic", "lan"}).code, 0);
  d.startVm("crashy");
  std::string mac = d.vm("crashy")["nics"][0]["mac"];
  ASSERT_TRUE(waitFor([&] { return !leaseIp(d, "lan", mac).empty(); }, 90s));
  std::string ip = leaseIp(d, "lan", mac);
  auto links = paddockLinks(d);
  EXPECT_EQ(links.size(), 2u);  // the bridge and the VM's TAP

  int dnsmasq = d.api().call("GET", "/v1/networks/lan").value()["dnsmasq_pid"];
  ASSERT_GT(dnsmasq, 0);
  kill(dnsmasq, SIGKILL);
  d.kill9();
  d.start();
  EXPECT_EQ(paddockLinks(d), links) << "restart duplicated or leaked interfaces";
  int again = d.api().call("GET", "/v1/networks/lan").value()["dnsmasq_pid"];
  EXPECT_GT(again, 0);
  EXPECT_NE(again, dnsmasq);
  EXPECT_EQ(leaseIp(d, "lan", mac), ip) << "the lease file did not survive";
  EXPECT_EQ(d.vm("crashy")["state"], "running");

  // Deleting everything leaves nothing behind.
  ASSERT_EQ(d.cli({"vm", "delete", "crashy", "--force"}).code, 0);
  ASSERT_EQ(d.cli({"network", "delete", "lan"}).code, 0);
  EXPECT_TRUE(paddockLinks(d).empty());
  EXPECT_FALSE(processAlive(again));
}

// The "outside" is one more namespace on this machine behind a veth pair: the daemon's namespace
// routes to it by default, so a NAT network's guests reach it and nothing else.
TEST_F(Networks, NatReachesTheOutsideAndAPortForwardReachesAGuest) {
  auto& d = *d_;
  Outside outside(d);
  auto created = d.cli({"network", "create", "wan", "--kind", "nat", "--subnet", "10.55.0.0/24",
                        "--forward", "tcp:8080:web:80"});
  ASSERT_EQ(created.code, 0) << created.err;
  ASSERT_EQ(
      d.cli({"vm", "create", "web", "--memory", "128M", "--nic", "network=wan,ip=10.55.0.11"}).code,
      0);
  d.startVm("web");
  ASSERT_TRUE(waitFor(
      [&] {
        return d.cli({"vm", "console", "web", "--log"})
                   .out.find("PADDOCK-NET eth0 ip=10.55.0.11") != std::string::npos;
      },
      60s));
  std::string out;
  // Out through NAT to the outside namespace, by a name the network's dnsmasq asks the host's
  // resolver (the outside's DNS server) for.
  EXPECT_EQ(guestRun(d, "web", "wget -q -O - http://outside.test/", &out), 0) << out;
  EXPECT_NE(out.find("outside-page"), std::string::npos) << out;
  EXPECT_EQ(guestRun(d, "web", "nslookup -type=a outside.test", &out), 0) << out;
  // In through the port forward to the guest's web server.
  ASSERT_EQ(
      guestRun(d, "web",
               "mkdir -p /www && echo guest-page > /www/index.html && httpd -p 80 -h /www", &out),
      0)
      << out;
  auto net = d.api().call("GET", "/v1/networks/wan").value();
  ASSERT_TRUE(net["forward_status"].is_array() && net["forward_status"].size() == 1) << net.dump();
  EXPECT_TRUE(net["forward_status"][0].value("active", false)) << net.dump();
  auto fetched = outside.exec({"curl", "-s", "-m", "10", "http://10.99.0.1:8080/"});
  EXPECT_NE(fetched.out.find("guest-page"), std::string::npos) << fetched.out << fetched.err;
  // An internal network's guest has no way out.
  ASSERT_EQ(d.cli({"network", "create", "inside", "--subnet", "10.56.0.0/24"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "hermit", "--memory", "128M", "--nic", "inside"}).code, 0);
  d.startVm("hermit");
  ASSERT_TRUE(waitFor(
      [&] {
        return d.cli({"vm", "console", "hermit", "--log"}).out.find("PADDOCK-NET eth0") !=
               std::string::npos;
      },
      60s));
  EXPECT_NE(guestRun(d, "hermit", "wget -q -T 3 -O - http://10.99.0.2/", &out), 0) << out;
  // Nor a name from outside: an internal network's dnsmasq forwards nothing.
  EXPECT_NE(guestRun(d, "hermit", "nslookup -type=a outside.test", &out), 0) << out;
}

TEST_F(Networks, AKilledDnsmasqIsRestartedWithItsLeases) {
  auto& d = *d_;
  ASSERT_EQ(d.cli({"network", "create", "sup", "--subnet", "10.81.0.0/24"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "leaser", "--memory", "128M", "--nic", "sup"}).code, 0);
  d.startVm("leaser");
  std::string mac = d.vm("leaser")["nics"][0]["mac"];
  ASSERT_TRUE(waitFor([&] { return !leaseIp(d, "sup", mac).empty(); }, 90s));
  std::string ip = leaseIp(d, "sup", mac);
  int pid = d.api().call("GET", "/v1/networks/sup").value()["dnsmasq_pid"];
  kill(pid, SIGKILL);
  int again = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        again = d.api().call("GET", "/v1/networks/sup").value()["dnsmasq_pid"];
        return again != 0 && again != pid;
      },
      10s));
  EXPECT_EQ(leaseIp(d, "sup", mac), ip);
}

}  // namespace
}  // namespace paddock::test
