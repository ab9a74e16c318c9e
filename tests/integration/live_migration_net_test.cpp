// Live migration between two paddockd that are two hosts as far as the network goes: each in
// a network namespace of its own, linked by a veth pair (their "management network"), each with
// its own switch "lan". The guest keeps its address and answers on the target's switch.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"
#include "integration/migration_pair.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGuestIp = "10.71.0.11";

// Host-clock times (s) of the echo replies `ping -D` printed.
std::vector<double> replyTimes(const std::string& pingOutput) {
  std::vector<double> out;
  std::regex reply(R"(\[([0-9]+\.[0-9]+)\] [0-9]+ bytes from)");
  for (auto it = std::sregex_iterator(pingOutput.begin(), pingOutput.end(), reply);
       it != std::sregex_iterator(); ++it)
    out.push_back(std::stod((*it)[1]));
  return out;
}

// Output of `ping -D` every 10 ms from `d`'s namespace to `ip` for `seconds` (in short runs:
// ping gives up when the neighbour queue of an address nobody answers fills).
std::string pingFor(TestDaemon& d, const std::string& ip, int seconds) {
  auto r = runCommand(
      {"ip", "netns", "exec", d.netns(), "bash", "-c",
       "end=$((SECONDS + " + std::to_string(seconds) +
           ")); while ((SECONDS < end)); do ping -D -n -i 0.01 -W 1 -w 1 " + ip + "; done"},
      std::chrono::seconds(seconds + 20));
  return r ? r->out + r->err : r.error().message;
}

// Whether `from` (a VM on `d`) gets an answer from `ip`.
bool pings(TestDaemon& d, const std::string& from, const std::string& ip) {
  return guestRun(d, from, "ping -c 1 -W 2 " + ip) == 0;
}

class NetnsLiveMigration : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "network namespaces, bridges and TAPs need root";
    for (auto* d : {&a_, &b_}) {
      DaemonOptions o;
      o.ownNetns = true;
      o.resolvConf = kTestResolvConf;
      o.extraArgs = {"--listen", "0.0.0.0:0"};
      *d = std::make_unique<TestDaemon>(o);
    }
    // The hosts' link: 10.98.0.1 (a) <-> 10.98.0.2 (b).
    auto link = a_->inNetns({"ip", "link", "add", "mgmt0", "type", "veth", "peer", "name", "mgmt1",
                             "netns", b_->netns()});
    ASSERT_EQ(link.exitCode, 0) << link.err;
    ASSERT_EQ(a_->inNetns({"ip", "addr", "add", "10.98.0.1/24", "dev", "mgmt0"}).exitCode, 0);
    ASSERT_EQ(b_->inNetns({"ip", "addr", "add", "10.98.0.2/24", "dev", "mgmt1"}).exitCode, 0);
    ASSERT_EQ(a_->inNetns({"ip", "link", "set", "mgmt0", "up"}).exitCode, 0);
    ASSERT_EQ(b_->inNetns({"ip", "link", "set", "mgmt1", "up"}).exitCode, 0);
    auto added =
        a_->cli({"host", "add", "b", "--address", "10.98.0.2:" + std::to_string(b_->tcpPort()),
                 "--token-file", b_->tokenFile()});
    ASSERT_EQ(added.code, 0) << added.err;
  }
  std::unique_ptr<TestDaemon> a_, b_;
};

TEST_F(NetnsLiveMigration, TheGuestKeepsItsAddressAndAnswersOnTheTargetsSwitch) {
  TestDaemon& a = *a_;
  TestDaemon& b = *b_;
  // The same L2 segment as far as the guests are concerned: a switch of the same name and
  // subnet on each host (the target's checks refuse a VM whose networks it lacks). n2 on b is
  // the neighbour that asks for n1's address.
  for (auto* d : {&a, &b})
    ASSERT_EQ(d->cli({"network", "create", "lan", "--subnet", "10.71.0.0/24"}).code, 0);
  ASSERT_EQ(a.cli({"vm", "create", "n1", "--memory", "128M", "--nic",
                   std::string("network=lan,ip=") + kGuestIp})
                .code,
            0);
  ASSERT_EQ(
      b.cli({"vm", "create", "n2", "--memory", "128M", "--nic", "network=lan,ip=10.71.0.12"}).code,
      0);
  a.startVm("n1");
  b.startVm("n2");
  std::string mac = a.vm("n1")["nics"][0]["mac"];
  ASSERT_TRUE(waitFor([&] { return leaseIp(a, "lan", mac) == kGuestIp; }, 90s))
      << a.cli({"vm", "console", "n1", "--log"}).out;
  EXPECT_FALSE(pings(b, "n2", kGuestIp)) << "n1 is not on b's switch yet";
  auto linksBefore = paddockLinks(a);

  // Each host pings the guest every 10 ms from its switch's gateway, from before the migration
  // to after it: the last answer on a and the first on b bracket the guest's outage. For the
  // guest the two gateways are one (as one router would be in a real network): b's gets a's MAC,
  // and b knows the guest's MAC beforehand, so that neither side's ARP is measured.
  std::string setup = "dev=$(ip -o route get " + std::string(kGuestIp) +
                      " | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'); ";
  auto gatewayMac = a.inNetns({"bash", "-c", setup + "cat /sys/class/net/$dev/address"});
  ASSERT_EQ(gatewayMac.exitCode, 0) << gatewayMac.err;
  std::string gw = gatewayMac.out.substr(0, gatewayMac.out.find('\n'));
  auto sameGateway =
      b.inNetns({"bash", "-c",
                 setup + "ip link set dev \"$dev\" address " + gw + " && ip neigh replace " +
                     kGuestIp + " lladdr " + mac + " dev \"$dev\" nud permanent"});
  ASSERT_EQ(sameGateway.exitCode, 0) << sameGateway.err;
  std::string pingA, pingB;
  std::thread pa([&] { pingA = pingFor(a, kGuestIp, 15); });
  std::thread pb([&] { pingB = pingFor(b, kGuestIp, 15); });
  std::this_thread::sleep_for(3s);
  auto moved = a.cli({"--json", "vm", "migrate", "n1", "--to", "b", "--live"});
  pa.join();
  pb.join();
  ASSERT_EQ(moved.code, 0) << moved.err;
  auto onA = replyTimes(pingA), onB = replyTimes(pingB);
  ASSERT_FALSE(onA.empty()) << pingA;
  ASSERT_FALSE(onB.empty()) << "the guest never answered on b's switch:\n" << pingB.substr(0, 2000);
  double gapMs = (onB.front() - onA.back()) * 1000;
  auto pausedMs = moved.json()["paused_ms"].get<std::int64_t>();
  std::cout << "guest unreachable for " << gapMs << " ms; paused " << pausedMs
            << " ms (QEMU's downtime " << moved.json()["downtime_ms"] << " ms)\n";
  EXPECT_GT(gapMs, 0) << "it answered on both switches at once";
  // The outage is the pause Paddock reports, plus the ping interval and the guest's and the
  // switch's catching up (its announcement, the bridge learning its port) under TCG.
  EXPECT_LE(gapMs, pausedMs + 300) << "unreachable far longer than the pause it reported";
  // The guest's pause as Paddock reports it: QEMU's downtime, the mirrors' end and the commit.
  EXPECT_GE(moved.json()["paused_ms"].get<std::int64_t>(),
            moved.json()["downtime_ms"].get<std::int64_t>() + 1)
      << moved.out;
  EXPECT_LT(moved.json()["paused_ms"].get<std::int64_t>(), 10'000) << moved.out;
  EXPECT_EQ(b.vm("n1")["state"], "running");
  EXPECT_EQ(b.vm("n1")["nics"][0]["mac"], mac) << "the NIC keeps its MAC";
  // The guest did not ask for an address again: the one it had answers on b's switch, and the
  // guest's own view agrees.
  EXPECT_TRUE(waitFor([&] { return pings(b, "n2", kGuestIp); }, 30s))
      << b.cli({"vm", "console", "n1", "--log"}).out;
  std::string out;
  EXPECT_EQ(guestRun(b, "n1", "ip -4 addr show eth0 && ping -c 1 -W 2 10.71.0.12", &out), 0) << out;
  EXPECT_NE(out.find(std::string("inet ") + kGuestIp), std::string::npos) << out;
  // The source's TAP is gone with its QEMU.
  auto linksAfter = paddockLinks(a);
  EXPECT_LT(linksAfter.size(), linksBefore.size()) << "the source's TAP was removed";
  EXPECT_EQ(std::count_if(linksAfter.begin(), linksAfter.end(),
                          [](const std::string& l) { return l[6] == 't'; }),
            0)
      << "no TAP left on the source";
  EXPECT_TRUE(noIncoming(b));
}

}  // namespace
}  // namespace paddock::test
