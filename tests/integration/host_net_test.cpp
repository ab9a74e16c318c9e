// The host network layer against the real kernel: bridges, taps, nftables NAT and dnsmasq.
// Each test runs inside network namespaces of its own (the test thread enters one with setns,
// and commands it spawns inherit it), so nothing touches the machine's real network.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/subprocess.h"
#include "host/net_host.h"

namespace paddock::host {
namespace {

using nlohmann::json;

std::string randomHex(int digits) {
  static std::mt19937 rng{std::random_device{}()};
  std::string out;
  for (int i = 0; i < digits; ++i) out += "0123456789abcdef"[rng() % 16];
  return out;
}

CommandOutput run(const std::vector<std::string>& argv, int timeoutSeconds = 30) {
  auto out = runCommand(argv, std::chrono::seconds(timeoutSeconds));
  if (!out) return CommandOutput{-1, "", out.error().message};
  return *out;
}

// Runs argv and fails the test (non-fatally) unless it exits 0.
std::string runOk(const std::vector<std::string>& argv) {
  auto out = run(argv);
  EXPECT_EQ(out.exitCode, 0) << fmt::format("{}", fmt::join(argv, " ")) << ": " << out.err;
  return out.out;
}

json runJson(const std::vector<std::string>& argv) {
  auto doc = json::parse(runOk(argv), nullptr, false);
  return doc.is_discarded() ? json() : doc;
}

class HostNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0)
      GTEST_SKIP() << "SKIPPED: host network tests need root (network namespaces, bridges, "
                      "nftables, dnsmasq)";
    ns_ = addNetns();
    ASSERT_FALSE(ns_.empty());
    origNs_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(origNs_, 0);
    int fd = open(("/run/netns/" + ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    ASSERT_EQ(rc, 0) << "setns: " << strerror(errno);
    entered_ = true;
    runOk({"ip", "link", "set", "lo", "up"});
    net_ = makeIprouteNetHost();
  }

  void TearDown() override {
    for (const auto& dir : dnsmasqDirs_) (void)Dnsmasq::stop(dir);
    if (entered_) {
      EXPECT_EQ(setns(origNs_, CLONE_NEWNET), 0) << "cannot return to the original netns";
      entered_ = false;
    }
    if (origNs_ >= 0) close(origNs_);
    // Whatever still runs in our namespaces (dnsmasq, udhcpc, httpd) goes, then their links (on
    // gVisor the links of a deleted namespace land in the host's), then the namespaces.
    for (const auto& ns : namespaces_) {
      auto pids = run({"ip", "netns", "pids", ns});
      std::istringstream in(pids.out);
      for (pid_t pid; in >> pid;) kill(pid, SIGKILL);
      auto links = run({"ip", "netns", "exec", ns, "ip", "-o", "link", "show"});
      std::istringstream linesIn(links.out);
      for (std::string line; std::getline(linesIn, line);) {
        auto colon = line.find(": ");
        if (colon == std::string::npos) continue;
        std::string name = line.substr(colon + 2, line.find_first_of(":@", colon + 2) - colon - 2);
        if (name != "lo") run({"ip", "netns", "exec", ns, "ip", "link", "del", name});
      }
      run({"ip", "netns", "del", ns});
      EXPECT_FALSE(pathExists("/run/netns/" + ns)) << "netns " << ns << " left behind";
    }
    for (const auto& dir : tempDirs_) (void)removeAll(dir);
  }

  std::string addNetns() {
    std::string name = "paddock-hn-" + randomHex(8);
    auto out = run({"ip", "netns", "add", name});
    EXPECT_EQ(out.exitCode, 0) << "ip netns add " << name << ": " << out.err;
    if (out.exitCode != 0) return {};
    namespaces_.push_back(name);
    return name;
  }

  std::string tempDir() {
    char path[] = "/tmp/paddock-hn-XXXXXX";
    std::string dir = mkdtemp(path) ? path : "";
    EXPECT_FALSE(dir.empty());
    tempDirs_.push_back(dir);
    return dir;
  }

  // A client namespace whose eth0 (with `mac`) is a veth peer of `port`, a port of `bridge`.
  std::string addClient(const std::string& bridge, const std::string& port,
                        const std::string& mac) {
    std::string ns = addNetns();
    runOk({"ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns});
    runOk({"ip", "link", "set", port, "master", bridge, "up"});
    runOk({"ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "address", mac, "up"});
    runOk({"ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"});
    return ns;
  }

  // Runs busybox udhcpc in `ns`; returns what the script saw ("ip=... router=... dns=...").
  std::string dhcp(const std::string& ns) {
    std::string dir = tempDir();
    std::string script = dir + "/udhcpc.sh", result = dir + "/lease";
    EXPECT_TRUE(writeFileAtomic(script,
                                "#!/bin/sh\n"
                                "case \"$1\" in bound|renew)\n"
                                "  busybox ifconfig \"$interface\" \"$ip\" netmask \"$subnet\" up\n"
                                "  echo \"ip=$ip router=$router dns=$dns domain=$domain\" > " +
                                    result +
                                    "\n"
                                    ";; esac\nexit 0\n",
                                0755)
                    .ok());
    auto out = run({"ip", "netns", "exec", ns, "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t",
                    "10", "-T", "1", "-s", script},
                   40);
    EXPECT_EQ(out.exitCode, 0) << "udhcpc: " << out.err << out.out;
    auto text = readFile(result);
    return text ? text->substr(0, text->find('\n')) : "";
  }

  std::string nslookup(const std::string& ns, const std::string& name, const std::string& server) {
    auto out = run({"ip", "netns", "exec", ns, "busybox", "nslookup", name, server});
    return out.out + out.err;
  }

  DnsmasqConfig dnsmasqConfig(const std::string& bridge) {
    DnsmasqConfig c;
    c.network = "testnet";
    c.bridge = bridge;
    c.gatewayIp = "10.70.0.1";
    c.rangeStart = "10.70.0.100";
    c.rangeEnd = "10.70.0.150";
    c.netmask = "255.255.255.0";
    c.domain = "paddock.test";
    c.router = true;
    c.dir = tempDir() + "/net";
    c.hosts = {{"52:54:00:aa:bb:01", "10.70.0.20", "webvm"}};
    dnsmasqDirs_.push_back(c.dir);
    return c;
  }

  // Pids of dnsmasq processes in the test's namespace.
  std::vector<pid_t> dnsmasqPids() {
    std::vector<pid_t> out;
    std::istringstream in(run({"ip", "netns", "pids", ns_}).out);
    for (pid_t pid; in >> pid;) {
      auto comm = readFile(fmt::format("/proc/{}/comm", pid));
      auto stat = readFile(fmt::format("/proc/{}/stat", pid));
      bool zombie = stat && stat->find(") Z") != std::string::npos;
      if (comm && *comm == "dnsmasq\n" && !zombie) out.push_back(pid);
    }
    return out;
  }

  std::string ns_;
  int origNs_ = -1;
  bool entered_ = false;
  std::unique_ptr<NetHost> net_;
  std::vector<std::string> namespaces_;
  std::vector<std::string> tempDirs_;
  std::vector<std::string> dnsmasqDirs_;
};

std::vector<std::string> ipv4Addresses(const std::string& dev) {
  std::vector<std::string> out;
  for (const auto& l : runJson({"ip", "-j", "-4", "addr", "show", "dev", dev}))
    for (const auto& a : l.value("addr_info", json::array()))
      out.push_back(fmt::format("{}/{}", a.value("local", ""), a.value("prefixlen", 0)));
  return out;
}

json linkJson(const std::string& dev) {
  auto doc = runJson({"ip", "-j", "-d", "link", "show", "dev", dev});
  return doc.is_array() && !doc.empty() ? doc[0] : json::object();
}

TEST_F(HostNetTest, BridgeEnsureIsIdempotentAndSetsTheAddress) {
  BridgeConfig br{"hnbr0", "10.50.0.1/24", false};
  ASSERT_TRUE(net_->ensureBridge(br).ok());
  auto first = net_->ensureBridge(br);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(ipv4Addresses("hnbr0"), std::vector<std::string>{"10.50.0.1/24"});
  json link = linkJson("hnbr0");
  EXPECT_EQ(link["linkinfo"]["info_kind"], "bridge");
  EXPECT_EQ(link["linkinfo"]["info_data"]["stp_state"], 0);
  EXPECT_EQ(link["linkinfo"]["info_data"]["forward_delay"], 0);
  auto flags = link["flags"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(flags.begin(), flags.end(), "UP"), flags.end());
  EXPECT_TRUE(net_->linkExists("hnbr0"));

  // Another address replaces the old one (including one added behind our back).
  runOk({"ip", "addr", "add", "192.168.99.1/24", "dev", "hnbr0"});
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.51.0.1/16", false}).ok());
  EXPECT_EQ(ipv4Addresses("hnbr0"), std::vector<std::string>{"10.51.0.1/16"});
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "", false}).ok());
  EXPECT_TRUE(ipv4Addresses("hnbr0").empty());

  // STP switched on behind our back is switched off again.
  runOk({"ip", "link", "set", "hnbr0", "type", "bridge", "stp_state", "1"});
  ASSERT_TRUE(net_->ensureBridge(br).ok());
  EXPECT_EQ(linkJson("hnbr0")["linkinfo"]["info_data"]["stp_state"], 0);

  // A non-bridge link with the name is a conflict, not silently replaced.
  runOk({"ip", "link", "add", "hnveth0", "type", "veth", "peer", "name", "hnveth1"});
  auto conflict = net_->ensureBridge({"hnveth0", "", false});
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, Errc::conflict);
  EXPECT_NE(conflict.error().message.find("hnveth0"), std::string::npos);
  EXPECT_EQ(net_->ensureBridge({"this-name-is-too-long", "", false}).error().code,
            Errc::invalid_argument);
  EXPECT_EQ(net_->ensureBridge({"hnbr1", "10.1.2.3", false}).error().code, Errc::invalid_argument);
}

// A bridge that took its ports' lowest MAC would change MAC whenever a port with a lower one
// joins, and its neighbours' ARP entries for the gateway would go stale for seconds.
TEST_F(HostNetTest, BridgeKeepsItsOwnMacWhenPortsComeAndGo) {
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.50.0.1/24", false}).ok());
  std::string mac = linkJson("hnbr0")["address"];
  EXPECT_EQ(mac.substr(0, 3), "02:") << "not a locally administered address: " << mac;
  runOk({"ip", "link", "add", "hnlow", "address", "00:00:00:00:00:01", "type", "veth", "peer",
         "name", "hnlowp"});
  runOk({"ip", "link", "set", "hnlow", "master", "hnbr0", "up"});
  EXPECT_EQ(linkJson("hnbr0")["address"], mac);
  // One changed behind our back is put back, and a bridge of another name gets another MAC.
  runOk({"ip", "link", "set", "dev", "hnbr0", "address", "02:00:00:00:00:09"});
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.50.0.1/24", false}).ok());
  EXPECT_EQ(linkJson("hnbr0")["address"], mac);
  ASSERT_TRUE(net_->ensureBridge({"hnbr1", "", false}).ok());
  EXPECT_NE(linkJson("hnbr1")["address"], mac);
}

TEST_F(HostNetTest, TapAttachesToTheBridge) {
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.50.0.1/24", false}).ok());
  TapConfig tap{"hntap0", "hnbr0", std::nullopt};
  auto s = net_->ensureTap(tap);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(net_->ensureTap(tap).ok());
  json link = linkJson("hntap0");
  EXPECT_EQ(link.value("master", ""), "hnbr0");
  EXPECT_EQ(link["linkinfo"]["info_kind"], "tun");
  EXPECT_EQ(link["linkinfo"]["info_data"]["type"], "tap");
  EXPECT_EQ(link["linkinfo"]["info_data"]["persist"], true);
  auto flags = link["flags"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(flags.begin(), flags.end(), "UP"), flags.end());
  auto stats = net_->linkStats("hntap0");
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(net_->linkStats("hnnothere").error().code, Errc::not_found);

  // Moving the tap to another bridge.
  ASSERT_TRUE(net_->ensureBridge({"hnbr1", "", false}).ok());
  ASSERT_TRUE(net_->ensureTap({"hntap0", "hnbr1", std::nullopt}).ok());
  EXPECT_EQ(linkJson("hntap0").value("master", ""), "hnbr1");

  auto noBridge = net_->ensureTap({"hntap1", "hnmissing", std::nullopt});
  ASSERT_FALSE(noBridge.ok());
  EXPECT_EQ(noBridge.error().code, Errc::not_found);
  EXPECT_NE(noBridge.error().message.find("hnmissing"), std::string::npos);
  // A VLAN needs a VLAN-filtering bridge.
  auto noFiltering = net_->ensureTap({"hntap0", "hnbr1", 10});
  ASSERT_FALSE(noFiltering.ok());
  EXPECT_EQ(noFiltering.error().code, Errc::conflict);
}

// The port's VLANs as "vid[P][U]" strings, e.g. {"10PU"}.
std::vector<std::string> portVlans(const std::string& port) {
  std::vector<std::string> out;
  for (const auto& e : runJson({"bridge", "-j", "vlan", "show", "dev", port})) {
    if (e.value("ifname", "") != port) continue;
    for (const auto& v : e.value("vlans", json::array())) {
      std::string s = std::to_string(v.value("vlan", 0));
      if (v.contains("vlanEnd")) s += "-" + std::to_string(v.value("vlanEnd", 0));
      for (const auto& f : v.value("flags", json::array()))
        s += f == "PVID" ? "P" : (f == "Egress Untagged" ? "U" : "?");
      out.push_back(s);
    }
  }
  return out;
}

TEST_F(HostNetTest, TapWithVlanGetsItsPvid) {
  auto br = net_->ensureBridge({"hnbr0", "", true});
  if (!br.ok() && br.error().code == Errc::unavailable)
    GTEST_SKIP() << "SKIPPED: this kernel has no bridge VLAN filtering: " << br.error().message;
  ASSERT_TRUE(br.ok()) << br.error().message;
  EXPECT_EQ(linkJson("hnbr0")["linkinfo"]["info_data"]["vlan_filtering"], 1);
  ASSERT_TRUE(net_->ensureTap({"hntap0", "hnbr0", 10}).ok());
  EXPECT_EQ(portVlans("hntap0"), std::vector<std::string>{"10PU"});
  ASSERT_TRUE(net_->ensureTap({"hntap0", "hnbr0", 10}).ok());
  EXPECT_EQ(portVlans("hntap0"), std::vector<std::string>{"10PU"});
  ASSERT_TRUE(net_->ensureTap({"hntap0", "hnbr0", 20}).ok());
  EXPECT_EQ(portVlans("hntap0"), std::vector<std::string>{"20PU"});
  ASSERT_TRUE(net_->ensureTap({"hntap0", "hnbr0", std::nullopt}).ok());
  EXPECT_EQ(portVlans("hntap0"), std::vector<std::string>{"1PU"});
  // Filtering off again.
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "", false}).ok());
  EXPECT_EQ(linkJson("hnbr0")["linkinfo"]["info_data"]["vlan_filtering"], 0);
}

TEST_F(HostNetTest, RemoveLinkIsIdempotent) {
  EXPECT_TRUE(net_->removeLink("hnnothere").ok());
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "", false}).ok());
  ASSERT_TRUE(net_->ensureTap({"hntap0", "hnbr0", std::nullopt}).ok());
  EXPECT_TRUE(net_->removeLink("hntap0").ok());
  EXPECT_FALSE(net_->linkExists("hntap0"));
  EXPECT_TRUE(net_->removeLink("hntap0").ok());
  EXPECT_TRUE(net_->removeLink("hnbr0").ok());
  EXPECT_FALSE(net_->linkExists("hnbr0"));
}

TEST_F(HostNetTest, ListLinksByPrefix) {
  ASSERT_TRUE(net_->ensureBridge({"pdx1b0", "", false}).ok());
  ASSERT_TRUE(net_->ensureTap({"pdx1t0", "pdx1b0", std::nullopt}).ok());
  ASSERT_TRUE(net_->ensureBridge({"pdx2b0", "", false}).ok());
  auto links = net_->listLinks("pdx1");
  std::sort(links.begin(), links.end());
  EXPECT_EQ(links, (std::vector<std::string>{"pdx1b0", "pdx1t0"}));
  EXPECT_TRUE(net_->listLinks("nomatch").empty());
}

TEST_F(HostNetTest, NatTableIsCreatedReplacedListedAndRemoved) {
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.60.0.1/24", false}).ok());
  run({"sysctl", "-w", "net.ipv4.ip_forward=0"});
  NatConfig nat{"paddock_hn_a", "hnbr0", "10.60.0.0/24", {{"tcp", 8080, "10.60.0.5", 80}}};
  auto s = net_->ensureNat(nat);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE(net_->ensureNat(nat).ok());
  std::string rules = runOk({"nft", "list", "table", "ip", "paddock_hn_a"});
  EXPECT_NE(rules.find("masquerade"), std::string::npos) << rules;
  EXPECT_NE(rules.find("dnat to 10.60.0.5:80"), std::string::npos) << rules;
  EXPECT_EQ(run({"sysctl", "-n", "net.ipv4.ip_forward"}).out, "1\n");

  // Replacing drops the old forward.
  nat.forwards = {{"udp", 5353, "10.60.0.6", 53}};
  ASSERT_TRUE(net_->ensureNat(nat).ok());
  rules = runOk({"nft", "list", "table", "ip", "paddock_hn_a"});
  EXPECT_EQ(rules.find("10.60.0.5"), std::string::npos) << rules;
  EXPECT_NE(rules.find("udp dport 5353 dnat to 10.60.0.6:53"), std::string::npos) << rules;

  ASSERT_TRUE(net_->ensureNat({"paddock_hn_b", "hnbr0", "10.61.0.0/24", {}}).ok());
  ASSERT_TRUE(net_->ensureNat({"other_table", "hnbr0", "10.62.0.0/24", {}}).ok());
  auto tables = net_->listNatTables("paddock_hn_");
  std::sort(tables.begin(), tables.end());
  EXPECT_EQ(tables, (std::vector<std::string>{"paddock_hn_a", "paddock_hn_b"}));

  EXPECT_TRUE(net_->removeNat("paddock_hn_a").ok());
  EXPECT_TRUE(net_->removeNat("paddock_hn_a").ok());
  EXPECT_EQ(net_->listNatTables("paddock_hn_"), std::vector<std::string>{"paddock_hn_b"});

  EXPECT_EQ(net_->ensureNat({"bad name", "hnbr0", "10.60.0.0/24", {}}).error().code,
            Errc::invalid_argument);
  EXPECT_EQ(net_->ensureNat({"t", "hnbr0", "10.60.0.0", {}}).error().code, Errc::invalid_argument);
  EXPECT_EQ(
      net_->ensureNat({"t", "hnbr0", "10.60.0.0/24", {{"icmp", 1, "10.60.0.5", 1}}}).error().code,
      Errc::invalid_argument);
}

// Traffic through the NAT: a "guest" namespace behind the bridge, an "uplink" namespace that
// has no route back to the guest subnet (so replies only arrive if masquerading works), and a
// port forward reached from the uplink (prerouting) and from the host itself (output).
TEST_F(HostNetTest, NatMasqueradesAndForwardsPorts) {
  if (run({"curl", "--version"}).exitCode != 0) GTEST_SKIP() << "SKIPPED: needs curl";
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.60.0.1/24", false}).ok());
  std::string guest = addClient("hnbr0", "hnguest", "52:54:00:00:00:05");
  runOk({"ip", "netns", "exec", guest, "ip", "addr", "add", "10.60.0.5/24", "dev", "eth0"});
  runOk({"ip", "netns", "exec", guest, "ip", "route", "add", "default", "via", "10.60.0.1"});
  std::string uplink = addNetns();
  runOk({"ip", "link", "add", "hnup", "type", "veth", "peer", "name", "eth0", "netns", uplink});
  runOk({"ip", "addr", "add", "192.168.77.1/24", "dev", "hnup"});
  runOk({"ip", "link", "set", "hnup", "up"});
  runOk({"ip", "netns", "exec", uplink, "ip", "addr", "add", "192.168.77.2/24", "dev", "eth0"});
  runOk({"ip", "netns", "exec", uplink, "ip", "link", "set", "eth0", "up"});
  runOk({"ip", "netns", "exec", uplink, "ip", "link", "set", "lo", "up"});
  // A web server in each namespace.
  for (const auto& [ns, text] :
       {std::pair{guest, "from-guest"}, std::pair{uplink, "from-uplink"}}) {
    std::string dir = tempDir();
    ASSERT_TRUE(writeFileAtomic(dir + "/index.html", std::string(text) + "\n").ok());
    runOk({"ip", "netns", "exec", ns, "busybox", "httpd", "-p", "80", "-h", dir});
  }
  auto fetch = [&](const std::string& ns, const std::string& url) {
    // curl, not busybox wget: the static busybox's wget crashes resolving service names.
    std::vector<std::string> argv{"curl", "-s", "-m", "3", url};
    if (!ns.empty()) argv.insert(argv.begin(), {"ip", "netns", "exec", ns});
    return run(argv, 20).out;
  };
  EXPECT_EQ(fetch(guest, "http://192.168.77.2/"), "") << "reachable without NAT?";
  NatConfig nat{"paddock_hn_t", "hnbr0", "10.60.0.0/24", {{"tcp", 8080, "10.60.0.5", 80}}};
  auto s = net_->ensureNat(nat);
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(fetch(guest, "http://192.168.77.2/"), "from-uplink\n");
  runOk({"ip", "netns", "exec", uplink, "ip", "route", "add", "default", "via", "192.168.77.1"});
  EXPECT_EQ(fetch(uplink, "http://192.168.77.1:8080/"), "from-guest\n");
  EXPECT_EQ(fetch("", "http://192.168.77.1:8080/"), "from-guest\n");
  EXPECT_EQ(fetch("", "http://10.60.0.1:8080/"), "from-guest\n");
  // Traffic not addressed to the host is not redirected.
  EXPECT_EQ(fetch(guest, "http://192.168.77.2:8080/"), "");
  ASSERT_TRUE(net_->removeNat("paddock_hn_t").ok());
  EXPECT_EQ(fetch(uplink, "http://192.168.77.1:8080/"), "");
}

TEST_F(HostNetTest, DnsmasqServesLeasesReservationsAndNames) {
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.70.0.1/24", false}).ok());
  DnsmasqConfig config = dnsmasqConfig("hnbr0");
  auto pid = Dnsmasq::start(config);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  EXPECT_EQ(Dnsmasq::running(config.dir), *pid);
  // Starting again with the same configuration keeps the same process.
  auto again = Dnsmasq::start(config);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, *pid);

  std::string reserved = addClient("hnbr0", "hnc1", "52:54:00:aa:bb:01");
  EXPECT_EQ(dhcp(reserved), "ip=10.70.0.20 router=10.70.0.1 dns=10.70.0.1 domain=paddock.test");
  std::string dynamic = addClient("hnbr0", "hnc2", "52:54:00:aa:bb:02");
  std::string got = dhcp(dynamic);
  ASSERT_EQ(got.rfind("ip=10.70.0.", 0), 0u) << got;
  int last = std::stoi(got.substr(11, got.find(' ') - 11));
  EXPECT_GE(last, 100);
  EXPECT_LE(last, 150);

  auto leases = Dnsmasq::leases(config.dir);
  ASSERT_TRUE(leases.ok()) << leases.error().message;
  std::map<std::string, std::string> byMac;
  for (const auto& l : *leases) {
    byMac[l.mac] = l.ip;
    EXPECT_GT(l.expiry, time(nullptr));
  }
  EXPECT_EQ(byMac["52:54:00:aa:bb:01"], "10.70.0.20");
  EXPECT_EQ(byMac["52:54:00:aa:bb:02"], got.substr(3, got.find(' ') - 3));

  std::string answer = nslookup(dynamic, "webvm.paddock.test", "10.70.0.1");
  EXPECT_NE(answer.find("10.70.0.20"), std::string::npos) << answer;

  // A new reservation reaches DNS through updateHosts (SIGHUP), without a restart.
  config.hosts.push_back({"52:54:00:aa:bb:03", "10.70.0.30", "dbvm"});
  ASSERT_TRUE(Dnsmasq::updateHosts(config).ok());
  EXPECT_EQ(Dnsmasq::running(config.dir), *pid);
  std::string db = addClient("hnbr0", "hnc3", "52:54:00:aa:bb:03");
  EXPECT_EQ(dhcp(db).substr(0, 13), "ip=10.70.0.30");
  answer = nslookup(dynamic, "dbvm.paddock.test", "10.70.0.1");
  EXPECT_NE(answer.find("10.70.0.30"), std::string::npos) << answer;

  ASSERT_TRUE(Dnsmasq::stop(config.dir).ok());
  EXPECT_FALSE(Dnsmasq::running(config.dir));
  EXPECT_TRUE(dnsmasqPids().empty());
  EXPECT_TRUE(Dnsmasq::stop(config.dir).ok());
}

TEST_F(HostNetTest, DnsmasqWithoutRouterOrDomain) {
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.70.0.1/24", false}).ok());
  DnsmasqConfig config = dnsmasqConfig("hnbr0");
  config.router = false;
  config.domain.clear();
  auto pid = Dnsmasq::start(config);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  std::string client = addClient("hnbr0", "hnc1", "52:54:00:aa:bb:01");
  EXPECT_EQ(dhcp(client), "ip=10.70.0.20 router= dns=10.70.0.1 domain=");
}

TEST_F(HostNetTest, DnsmasqKilledIsNotRunningAndRestartsWithItsLeases) {
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "10.70.0.1/24", false}).ok());
  DnsmasqConfig config = dnsmasqConfig("hnbr0");
  auto pid = Dnsmasq::start(config);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  std::string client = addClient("hnbr0", "hnc1", "52:54:00:aa:bb:09");
  std::string got = dhcp(client);
  ASSERT_EQ(got.rfind("ip=10.70.0.", 0), 0u) << got;

  ASSERT_EQ(kill(*pid, SIGKILL), 0);
  for (int i = 0; i < 100 && Dnsmasq::running(config.dir); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(Dnsmasq::running(config.dir));

  auto restarted = Dnsmasq::start(config);
  ASSERT_TRUE(restarted.ok()) << restarted.error().message;
  EXPECT_NE(*restarted, *pid);
  EXPECT_EQ(Dnsmasq::running(config.dir), *restarted);
  auto leases = Dnsmasq::leases(config.dir);
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].mac, "52:54:00:aa:bb:09");
  // The client renews and keeps its address.
  EXPECT_EQ(dhcp(client), got);

  // A changed configuration restarts it (same lease file).
  config.rangeEnd = "10.70.0.140";
  auto changed = Dnsmasq::start(config);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_NE(*changed, *restarted);
  EXPECT_EQ(dnsmasqPids().size(), 1u);
  EXPECT_EQ(Dnsmasq::leases(config.dir)->size(), 1u);
}

TEST_F(HostNetTest, DnsmasqStartFailsClearlyWithoutTheGatewayAddress) {
  ASSERT_TRUE(net_->ensureBridge({"hnbr0", "", false}).ok());
  DnsmasqConfig config = dnsmasqConfig("hnbr0");
  auto pid = Dnsmasq::start(config);
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().message.find("testnet"), std::string::npos) << pid.error().message;
  EXPECT_NE(pid.error().message.find("10.70.0.1"), std::string::npos) << pid.error().message;
  EXPECT_EQ(pid.error().message.find('\n'), std::string::npos);
  EXPECT_FALSE(Dnsmasq::running(config.dir));
  config.hosts.push_back({"not-a-mac", "", ""});
  EXPECT_EQ(Dnsmasq::start(config).error().code, Errc::invalid_argument);
}

TEST(DnsmasqLeases, ParsesTheLeaseFile) {
  char path[] = "/tmp/paddock-hn-XXXXXX";
  ASSERT_NE(mkdtemp(path), nullptr);
  std::string dir = path;
  auto none = Dnsmasq::leases(dir);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(writeFileAtomic(dir + "/leases",
                              "1700000000 52:54:00:aa:bb:01 10.70.0.20 webvm 01:52:54:00:aa:bb:01\n"
                              "1700000001 52:54:00:aa:bb:02 10.70.0.101 * *\n"
                              "duid 00:01:00:01:2c:aa\n"
                              "garbage\n")
                  .ok());
  auto leases = Dnsmasq::leases(dir);
  (void)removeAll(dir);
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 2u);
  EXPECT_EQ((*leases)[0].expiry, 1700000000);
  EXPECT_EQ((*leases)[0].hostname, "webvm");
  EXPECT_EQ((*leases)[1].ip, "10.70.0.101");
  EXPECT_EQ((*leases)[1].hostname, "");
}

}  // namespace
}  // namespace paddock::host
