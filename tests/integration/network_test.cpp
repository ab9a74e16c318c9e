// Virtual networks with real bridges, TAPs, dnsmasq and guests, inside a network namespace of
// the test's own.
#include <signal.h>

#include <unistd.h>

#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/files.h"
#include "http/http_client.h"
#include "http/websocket.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Runs `command` in the guest's shell and returns its exit status (-1: no answer in time).
int guestRun(TestDaemon& d, const std::string& vm, const std::string& command,
             std::string* output = nullptr) {
  auto ws = d.api().openWebSocket("/v1/vms/" + vm + "/console");
  if (!ws) return -1;
  static int serial = 0;
  std::string mark = "DONE" + std::to_string(++serial);
  (*ws)->sendBinary(command + "; echo " + mark + "=$?\n");
  std::regex done(mark + "=(\\d+)");
  std::string seen;
  std::smatch m;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto msg = (*ws)->receive();
    if (!msg) break;
    seen += *msg;
    if (std::regex_search(seen, m, done)) {
      if (output) *output = seen;
      return std::stoi(m[1]);
    }
  }
  if (output) *output = seen;
  return -1;
}

std::string leaseIp(TestDaemon& d, const std::string& network, const std::string& mac) {
  auto l = d.api().call("GET", "/v1/networks/" + network + "/leases");
  if (!l) return "";
  for (const auto& lease : (*l)["leases"])
    if (lease["mac"] == mac) return lease["ip"];
  return "";
}

std::vector<std::string> paddockLinks(TestDaemon& d) {
  auto out = d.inNetns({"ip", "-o", "link", "show"});
  std::vector<std::string> links;
  std::regex name(R"(^\d+: (pd[0-9a-f]{4}[bt][0-9a-f]{8})[@:])");
  std::istringstream in(out.out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, name)) links.push_back(m[1]);
  }
  std::sort(links.begin(), links.end());
  return links;
}

class Networks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "virtual networks need root (bridges, TAPs, namespaces)";
    d_ = std::make_unique<TestDaemon>(DaemonOptions{{}, true});
    // Never let a network test touch the host's own namespace.
    char mine[64] = {}, its[64] = {};
    ASSERT_GT(readlink("/proc/self/ns/net", mine, sizeof mine - 1), 0);
    ASSERT_GT(
        readlink(("/proc/" + std::to_string(d_->pid()) + "/ns/net").c_str(), its, sizeof its - 1),
        0);
    ASSERT_STRNE(mine, its) << "paddockd is not in a network namespace of its own";
  }
  std::unique_ptr<TestDaemon> d_;
};

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
  expect("POST", "/v1/networks", {{"name", "br"}, {"kind", "bridge"}}, 400, "not supported yet");
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
