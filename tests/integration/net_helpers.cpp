#include "integration/net_helpers.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include <fmt/format.h>

#include "client/console_command.h"
#include "common/files.h"

namespace paddock::test {

using namespace std::chrono_literals;

// Runs `command` in the guest's shell and returns its exit status (-1: no answer in time).
std::string guestDiskHead(TestDaemon& d, const std::string& vm, int bytes) {
  std::string out;
  EXPECT_EQ(
      guestRun(d, vm, fmt::format("dd if=/dev/vda bs={} count=1 2>/dev/null; echo", bytes), &out),
      0)
      << out;
  return out;
}

void guestWriteDiskHead(TestDaemon& d, const std::string& vm, const std::string& a,
                        const std::string& b) {
  std::string out;
  EXPECT_EQ(guestRun(d, vm,
                     fmt::format("printf '{}%s' '{}' | dd of=/dev/vda conv=notrunc 2>/dev/null && "
                                 "sync",
                                 a, b),
                     &out),
            0)
      << out;
}

int guestRun(TestDaemon& d, const std::string& vm, const std::string& command, std::string* output,
             std::chrono::seconds timeout) {
  auto r = runOnVmConsole(d.api(), vm, command, timeout);
  if (output) *output = r ? r->output : r.error().message;
  return r ? r->status : -1;
}

double guestSeconds(TestDaemon& d, const std::string& vm, const std::string& command) {
  std::string out;
  guestRun(d, vm,
           "s=$(cut -d' ' -f1 /proc/uptime); " + command +
               " && e=$(cut -d' ' -f1 /proc/uptime) && echo SECONDS=$(awk \"BEGIN{print $e-$s}\")",
           &out);
  auto at = out.rfind("SECONDS=");
  return at == std::string::npos ? -1.0 : std::stod(out.substr(at + 8));
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

namespace {

CommandOutput runHere(const std::vector<std::string>& argv) {
  auto r = runCommand(argv, std::chrono::seconds(30));
  return r.ok() ? *r : CommandOutput{-1, "", r.error().message};
}

}  // namespace

Outside::Outside(TestDaemon& d) : d_(d), ns_(d.netns() + "-out") {
  runHere({"ip", "netns", "add", ns_});
  d_.inNetns({"ip", "link", "add", "out0", "type", "veth", "peer", "name", "out1", "netns", ns_});
  d_.inNetns({"ip", "addr", "add", "10.99.0.1/24", "dev", "out0"});
  d_.inNetns({"ip", "link", "set", "out0", "up"});
  d_.inNetns({"ip", "route", "add", "default", "via", "10.99.0.2"});
  exec({"ip", "addr", "add", "10.99.0.2/24", "dev", "out1"});
  exec({"ip", "link", "set", "out1", "up"});
  exec({"ip", "link", "set", "lo", "up"});
  std::string www = d.stateDir() + "/outside-www";
  std::filesystem::create_directories(www);
  (void)writeFileAtomic(www + "/index.html", "outside-page\n");
  exec({"busybox", "httpd", "-p", "10.99.0.2:80", "-h", www});
  auto dns =
      exec({"dnsmasq", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            "--listen-address=10.99.0.2", "--bind-interfaces", "--address=/outside.test/10.99.0.2",
            "--pid-file=" + d.stateDir() + "/outside-dns.pid"});
  EXPECT_EQ(dns.exitCode, 0) << "outside DNS server: " << dns.err;
}

Outside::~Outside() {
  auto pids = runHere({"ip", "netns", "pids", ns_});
  std::istringstream in(pids.out);
  for (pid_t pid; in >> pid;) kill(pid, SIGKILL);
  d_.inNetns({"ip", "link", "del", "out0"});
  runHere({"ip", "netns", "del", ns_});
}

CommandOutput Outside::exec(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"ip", "netns", "exec", ns_});
  return runHere(argv);
}

void NetnsDaemonTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "virtual networks need root (bridges, TAPs, namespaces)";
  DaemonOptions options;
  options.ownNetns = true;
  options.resolvConf = kTestResolvConf;
  d_ = std::make_unique<TestDaemon>(options);
  // Never let a network test touch the host's own namespace.
  char mine[64] = {}, its[64] = {};
  ASSERT_GT(readlink("/proc/self/ns/net", mine, sizeof mine - 1), 0);
  ASSERT_GT(
      readlink(("/proc/" + std::to_string(d_->pid()) + "/ns/net").c_str(), its, sizeof its - 1), 0);
  ASSERT_STRNE(mine, its) << "paddockd is not in a network namespace of its own";
}

}  // namespace paddock::test
