// Bridge networks (guests join a host interface's L2 segment) and user networks (QEMU's
// user-mode stack), with real guests, inside network namespaces of the test's own.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include "common/files.h"
#include "http/http_client.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class NetworkKinds : public NetnsDaemonTest {};

CommandOutput runIn(const std::vector<std::string>& argv) {
  auto r = runCommand(argv, std::chrono::seconds(30));
  return r.ok() ? *r : CommandOutput{-1, "", r.error().message};
}

// An L2 segment outside Paddock: a namespace with a router address, its own DHCP server
// (dnsmasq) and a web server, joined to the daemon's namespace by a veth pair whose daemon-side
// end (`uplink`) has no address, as a host NIC cabled to a switch would.
class Segment {
 public:
  Segment(TestDaemon& d, std::string uplink) : d_(d), uplink_(std::move(uplink)) {
    ns_ = d.netns() + "-seg";
    runIn({"ip", "netns", "add", ns_});
    d_.inNetns(
        {"ip", "link", "add", uplink_, "type", "veth", "peer", "name", "eth0", "netns", ns_});
    d_.inNetns({"ip", "link", "set", uplink_, "up"});
    exec({"ip", "addr", "add", "192.168.88.1/24", "dev", "eth0"});
    exec({"ip", "link", "set", "eth0", "up"});
    exec({"ip", "link", "set", "lo", "up"});
    dir_ = d.stateDir() + "/segment";
    std::filesystem::create_directories(dir_ + "/www");
    (void)writeFileAtomic(dir_ + "/www/index.html", "segment-page\n");
    exec({"busybox", "httpd", "-p", "192.168.88.1:80", "-h", dir_ + "/www"});
    auto dhcp = exec({"dnsmasq", "--conf-file=/dev/null", "--interface=eth0", "--bind-interfaces",
                      "--port=0", "--dhcp-range=192.168.88.50,192.168.88.60,1h",
                      "--dhcp-leasefile=" + dir_ + "/leases", "--pid-file=" + dir_ + "/pid"});
    EXPECT_EQ(dhcp.exitCode, 0) << dhcp.err;
  }
  ~Segment() {
    auto pids = runIn({"ip", "netns", "pids", ns_});
    std::istringstream in(pids.out);
    for (pid_t pid; in >> pid;) kill(pid, SIGKILL);
    d_.inNetns({"ip", "link", "del", uplink_});
    runIn({"ip", "netns", "del", ns_});
  }
  CommandOutput exec(std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"ip", "netns", "exec", ns_});
    return runIn(argv);
  }
  // The address the segment's DHCP server leased to `mac` ("" if none).
  std::string leaseOf(const std::string& mac) {
    auto text = readFile(dir_ + "/leases");
    if (!text) return "";
    std::istringstream in(*text);
    for (std::string expiry, m, ip; in >> expiry >> m >> ip;) {
      if (m == mac) return ip;
      std::getline(in, expiry);
    }
    return "";
  }

 private:
  TestDaemon& d_;
  std::string uplink_;
  std::string ns_;
  std::string dir_;
};

json linkJson(TestDaemon& d, const std::string& name) {
  auto doc = json::parse(d.inNetns({"ip", "-j", "link", "show", "dev", name}).out, nullptr, false);
  return doc.is_array() && !doc.empty() ? doc[0] : json();
}

TEST_F(NetworkKinds, ABridgeNetworkPutsGuestsOnItsUplinksSegment) {
  auto& d = *d_;
  Segment segment(d, "upl0");
  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  auto refused = [&](const json& body, int status, const std::string& words) {
    auto r = raw.request("POST", "/v1/networks", body.dump());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, status) << body.dump() << " → " << r->body;
    EXPECT_NE(r->body.find(words), std::string::npos) << r->body;
  };
  // An uplink that does not exist, or that carries the host's addresses, is refused.
  refused({{"name", "ghost"}, {"kind", "bridge"}, {"uplink", "nosuch0"}}, 400,
          "uplink interface 'nosuch0' does not exist");
  d.inNetns({"ip", "link", "add", "upl9", "type", "veth", "peer", "name", "upl9p"});
  d.inNetns({"ip", "addr", "add", "192.168.99.1/24", "dev", "upl9"});
  refused({{"name", "busy"}, {"kind", "bridge"}, {"uplink", "upl9"}}, 409, "has addresses");
  d.inNetns({"ip", "link", "del", "upl9"});
  EXPECT_TRUE(paddockLinks(d).empty());
  EXPECT_TRUE(d.api().call("GET", "/v1/networks").value()["networks"].empty());

  auto created = d.cli({"network", "create", "seg", "--kind", "bridge", "--uplink", "upl0"});
  ASSERT_EQ(created.code, 0) << created.err;
  auto net = d.api().call("GET", "/v1/networks/seg").value();
  std::string bridge = net["bridge"];
  EXPECT_EQ(linkJson(d, "upl0").value("master", ""), bridge);
  EXPECT_TRUE(net.value("up", false)) << net.dump();
  EXPECT_EQ(net["dnsmasq_pid"], 0);
  auto leases = d.cli({"network", "leases", "seg"});
  EXPECT_NE(leases.code, 0);
  EXPECT_NE(leases.err.find("upl0's segment"), std::string::npos) << leases.err;

  ASSERT_EQ(d.cli({"vm", "create", "onseg", "--memory", "128M", "--nic", "seg"}).code, 0);
  d.startVm("onseg");
  std::string mac = d.vm("onseg")["nics"][0]["mac"];
  std::string ip;
  ASSERT_TRUE(waitFor([&] { return !(ip = segment.leaseOf(mac)).empty(); }, 90s))
      << "no lease from the segment's DHCP server; console: "
      << d.cli({"vm", "console", "onseg", "--log"}).out;
  EXPECT_EQ(ip.substr(0, 11), "192.168.88.");
  // The lease is written before the guest has configured it: wait for the guest's word.
  ASSERT_TRUE(waitFor(
      [&] {
        return d.cli({"vm", "console", "onseg", "--log"}).out.find("PADDOCK-NET eth0 ip=" + ip) !=
               std::string::npos;
      },
      30s));
  std::string out;
  EXPECT_EQ(guestRun(d, "onseg", "wget -q -O - http://192.168.88.1/", &out), 0) << out;
  EXPECT_NE(out.find("segment-page"), std::string::npos) << out;
  EXPECT_EQ(segment.exec({"busybox", "ping", "-c", "1", "-W", "3", ip}).exitCode, 0);

  // Restarting the daemon keeps the uplink where it is and leaks nothing.
  auto links = paddockLinks(d);
  d.stop();
  d.start();
  EXPECT_EQ(paddockLinks(d), links);
  EXPECT_EQ(linkJson(d, "upl0").value("master", ""), bridge);

  // Deleting the network releases the uplink and removes the bridge; the uplink stays.
  EXPECT_NE(d.cli({"network", "delete", "seg"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "delete", "--force", "onseg"}).code, 0);
  ASSERT_EQ(d.cli({"network", "delete", "seg"}).code, 0);
  EXPECT_TRUE(paddockLinks(d).empty());
  json uplink = linkJson(d, "upl0");
  ASSERT_FALSE(uplink.is_null()) << "the uplink went with the network";
  EXPECT_EQ(uplink.value("master", ""), "");
}

TEST_F(NetworkKinds, AnExistingBridgeAsUplinkTakesTheTapsAndIsLeftAlone) {
  auto& d = *d_;
  d.inNetns({"ip", "link", "add", "lanbr0", "type", "bridge"});
  d.inNetns({"ip", "link", "set", "lanbr0", "up"});
  auto created = d.cli({"network", "create", "lan", "--kind", "bridge", "--uplink", "lanbr0"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_EQ(d.api().call("GET", "/v1/networks/lan").value()["bridge"], "lanbr0");
  ASSERT_EQ(d.cli({"vm", "create", "onbr", "--memory", "128M", "--nic", "lan"}).code, 0);
  d.startVm("onbr");
  auto taps = paddockLinks(d);
  ASSERT_EQ(taps.size(), 1u);  // the TAP only: Paddock made no bridge of its own
  EXPECT_EQ(linkJson(d, taps[0]).value("master", ""), "lanbr0");
  ASSERT_EQ(d.cli({"vm", "delete", "--force", "onbr"}).code, 0);
  ASSERT_EQ(d.cli({"network", "delete", "lan"}).code, 0);
  EXPECT_TRUE(paddockLinks(d).empty());
  EXPECT_FALSE(linkJson(d, "lanbr0").is_null()) << "Paddock deleted a bridge it did not make";
  d.inNetns({"ip", "link", "del", "lanbr0"});
}

TEST_F(NetworkKinds, AUserNetworkNeedsNoHostDevicesAndForwardsPortsToItsGuest) {
  auto& d = *d_;
  ASSERT_EQ(
      d.cli({"network", "create", "un", "--kind", "user", "--forward", "tcp:18080:solo:80"}).code,
      0);
  ASSERT_EQ(d.cli({"network", "create", "un2", "--kind", "user", "--subnet", "10.0.3.0/24",
                   "--forward", "tcp:18090:solo:80"})
                .code,
            0);
  auto net = d.api().call("GET", "/v1/networks/un").value();
  EXPECT_EQ(net["subnet"], "10.0.2.0/24");
  EXPECT_EQ(net["dhcp_start"], "10.0.2.15");
  EXPECT_EQ(net["gateway"], "10.0.2.2");
  EXPECT_TRUE(net.value("up", false));
  auto leases = d.cli({"network", "leases", "un"});
  EXPECT_NE(leases.code, 0);
  EXPECT_NE(leases.err.find("keeps no lease table"), std::string::npos) << leases.err;
  // A reservation means nothing to QEMU's DHCP server.
  auto reserved = d.cli({"vm", "create", "pinned", "--nic", "network=un,ip=10.0.2.20"});
  EXPECT_NE(reserved.code, 0);
  EXPECT_NE(reserved.err.find("cannot reserve an address"), std::string::npos) << reserved.err;

  ASSERT_EQ(d.cli({"vm", "create", "solo", "--memory", "128M", "--nic", "un"}).code, 0);
  d.startVm("solo");
  EXPECT_TRUE(paddockLinks(d).empty());  // no bridge, no TAP
  ASSERT_TRUE(waitFor(
      [&] {
        return d.cli({"vm", "console", "solo", "--log"})
                   .out.find("PADDOCK-NET eth0 ip=10.0.2.15") != std::string::npos;
      },
      60s))
      << d.cli({"vm", "console", "solo", "--log"}).out;
  // The guest reaches the host's loopback through QEMU's virtual host address.
  std::string www = d.stateDir() + "/host-www";
  std::filesystem::create_directories(www);
  ASSERT_TRUE(writeFileAtomic(www + "/index.html", "host-page\n").ok());
  ASSERT_EQ(d.inNetns({"busybox", "httpd", "-p", "127.0.0.1:18081", "-h", www}).exitCode, 0);
  std::string out;
  EXPECT_EQ(guestRun(d, "solo", "wget -q -O - http://10.0.2.2:18081/", &out), 0) << out;
  EXPECT_NE(out.find("host-page"), std::string::npos) << out;
  // The forward reaches the guest's web server.
  ASSERT_EQ(
      guestRun(d, "solo",
               "mkdir -p /www && echo guest-page > /www/index.html && httpd -p 80 -h /www", &out),
      0)
      << out;
  auto fetched = d.inNetns({"curl", "-s", "-m", "10", "http://127.0.0.1:18080/"});
  EXPECT_EQ(fetched.out, "guest-page\n") << fetched.err;

  // A hot-plugged NIC on a second user network gets its own stack and its own forward.
  auto plugged = d.cli({"vm", "nic", "add", "solo", "--network", "un2"});
  ASSERT_EQ(plugged.code, 0) << plugged.err;
  ASSERT_TRUE(waitFor(
      [&] {
        return d.cli({"vm", "console", "solo", "--log"})
                   .out.find("PADDOCK-NET eth1 ip=10.0.3.15") != std::string::npos;
      },
      60s))
      << d.cli({"vm", "console", "solo", "--log"}).out;
  fetched = d.inNetns({"curl", "-s", "-m", "10", "http://127.0.0.1:18090/"});
  EXPECT_EQ(fetched.out, "guest-page\n") << fetched.err;
  auto stats = d.vm("solo")["nic_stats"];
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[1]["tap"], "");
}

// ESX port groups: VLAN-tagged access ports on one switch keep their guests apart. Guests in a
// port group get no DHCP from the network's dnsmasq (it sits in the untagged VLAN), so they are
// given static addresses on the kernel command line.
TEST_F(NetworkKinds, PortGroupsWithDifferentVlansOnOneSwitchAreIsolated) {
  auto& d = *d_;
  http::Client raw(http::Endpoint::unixSocket(d.socket()));
  json spec = {
      {"name", "vsw"},
      {"subnet", "10.57.0.0/24"},
      {"port_groups", {{{"name", "red"}, {"vlan", 10}}, {{"name", "blue"}, {"vlan", 20}}}}};
  auto r = raw.request("POST", "/v1/networks", spec.dump());
  ASSERT_TRUE(r.ok());
  if (r->status != 201 && r->body.find("lacks bridge VLAN filtering") != std::string::npos)
    GTEST_SKIP() << "SKIPPED: this kernel has no bridge VLAN filtering, so port groups cannot be "
                    "made here: "
                 << r->body;
  ASSERT_EQ(r->status, 201) << r->body;
  auto vm = [&](const std::string& name, const std::string& group, const std::string& ip) {
    auto c =
        d.cli({"vm", "create", name, "--memory", "128M", "--nic", "network=vsw,port_group=" + group,
               "--cmdline", "paddock.net=eth0:static:" + ip + "/24"});
    ASSERT_EQ(c.code, 0) << c.err;
  };
  vm("r1", "red", "10.57.0.11");
  vm("r2", "red", "10.57.0.12");
  vm("b1", "blue", "10.57.0.13");
  auto started = d.cli({"vm", "start", "--wait-ready", "r1", "r2", "b1"});
  ASSERT_EQ(started.code, 0) << started.err;
  std::string out;
  EXPECT_EQ(guestRun(d, "r1", "ping -c 2 -W 2 10.57.0.12", &out), 0) << out;
  EXPECT_NE(guestRun(d, "r1", "ping -c 2 -W 2 10.57.0.13", &out), 0) << out;
  EXPECT_NE(guestRun(d, "b1", "ping -c 2 -W 2 10.57.0.12", &out), 0) << out;
}

// The point of user networks: a paddockd that is not root runs guests with a network all the
// same, and says clearly why it cannot make the other kinds.
TEST(UnprivilegedDaemon, RunsGuestsOnUserNetworksAndRefusesHostNetworksClearly) {
  if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: needs root to start paddockd as another user";
  DaemonOptions options;
  options.extraArgs = {"--accel", "tcg"};  // the KVM probe would want to cache into the image dir
  options.ownNetns = true;
  options.resolvConf = kTestResolvConf;
  options.runAs = 65534;  // nobody
  TestDaemon d(options);
  auto lan = d.cli({"network", "create", "lan"});
  EXPECT_NE(lan.code, 0);
  EXPECT_NE(lan.err.find("Operation not permitted"), std::string::npos) << lan.err;
  EXPECT_NE(lan.err.find("user networks do not"), std::string::npos) << lan.err;
  EXPECT_TRUE(paddockLinks(d).empty());
  EXPECT_TRUE(d.api().call("GET", "/v1/networks").value()["networks"].empty());

  ASSERT_EQ(
      d.cli({"network", "create", "un", "--kind", "user", "--forward", "tcp:18080:nb:80"}).code, 0);
  ASSERT_EQ(d.cli({"vm", "create", "nb", "--memory", "128M", "--nic", "un"}).code, 0);
  d.startVm("nb");
  int pid = d.vm("nb")["runtime"].value("pid", 0);
  ASSERT_GT(pid, 0) << d.vm("nb").dump();
  auto owner = runIn({"ps", "-o", "user=", "-p", std::to_string(pid)});
  EXPECT_EQ(owner.out, "nobody\n") << "QEMU should run as the daemon's user";
  ASSERT_TRUE(waitFor(
      [&] {
        return d.cli({"vm", "console", "nb", "--log"}).out.find("PADDOCK-NET eth0 ip=10.0.2.15") !=
               std::string::npos;
      },
      60s));
  std::string out;
  ASSERT_EQ(
      guestRun(d, "nb", "mkdir -p /www && echo nb-page > /www/index.html && httpd -p 80 -h /www",
               &out),
      0)
      << out;
  EXPECT_EQ(d.inNetns({"curl", "-s", "-m", "10", "http://127.0.0.1:18080/"}).out, "nb-page\n");
}

}  // namespace
}  // namespace paddock::test
