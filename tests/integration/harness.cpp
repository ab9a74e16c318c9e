#include "integration/harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/files.h"
#include "common/subprocess.h"

namespace paddock::test {

namespace fs = std::filesystem;

nlohmann::json CliResult::json() const {
  auto j = nlohmann::json::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "CLI printed no JSON: " << out << err;
  return j;
}

std::string imageDir() {
  return PADDOCK_TEST_IMAGE_DIR;
}

bool waitFor(const std::function<bool()>& check, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return check();
}

bool processAlive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  auto stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  auto close = stat->rfind(')');
  return close != std::string::npos && stat->size() > close + 2 && (*stat)[close + 2] != 'Z';
}

TestDaemon::TestDaemon(std::vector<std::string> extraArgs)
    : TestDaemon(DaemonOptions{std::move(extraArgs), false, "", 0}) {}

TestDaemon::TestDaemon(DaemonOptions options)
    : extraArgs_(std::move(options.extraArgs)), runAs_(options.runAs) {
  char tmpl[] = "/tmp/paddock-it-XXXXXX";
  stateDir_ = mkdtemp(tmpl);
  if (runAs_ != 0) {
    EXPECT_EQ(chown(stateDir_.c_str(), runAs_, runAs_), 0) << strerror(errno);
  }
  if (options.ownNetns) {
    netns_ = "paddock-it-" + stateDir_.substr(stateDir_.rfind('-') + 1);
    auto r = runCommand({"ip", "netns", "add", netns_}, std::chrono::seconds(10));
    EXPECT_TRUE(r.ok() && r->exitCode == 0) << "cannot create netns " << netns_;
    (void)runCommand({"ip", "netns", "exec", netns_, "ip", "link", "set", "lo", "up"},
                     std::chrono::seconds(10));
    // Whatever the daemon (and the dnsmasq it starts) resolves stays inside the test's world.
    fs::create_directories("/etc/netns/" + netns_);
    EXPECT_TRUE(writeFileAtomic("/etc/netns/" + netns_ + "/resolv.conf",
                                options.resolvConf.empty() ? "# no resolver in this test\n"
                                                           : options.resolvConf)
                    .ok());
  }
  start();
}

CommandOutput TestDaemon::inNetns(const std::vector<std::string>& argv) {
  std::vector<std::string> full;
  if (!netns_.empty()) full = {"ip", "netns", "exec", netns_};
  full.insert(full.end(), argv.begin(), argv.end());
  auto r = runCommand(full, std::chrono::seconds(30));
  return r.ok() ? *r : CommandOutput{-1, "", r.error().message};
}

TestDaemon::~TestDaemon() {
  if (pid_ > 0 && processAlive(pid_)) forceStopAll();
  stop();
  // Whatever QEMU is left in this state dir (a test that killed the daemon) must not outlive us.
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(stateDir_ + "/run", ec)) {
    if (auto pid = readFile(d.path().string() + "/qemu.pid")) {
      pid_t p = static_cast<pid_t>(std::atol(pid->c_str()));
      if (processMatches(p, "qemu-system-x86_64")) kill(p, SIGKILL);
    }
  }
  // dnsmasq outlives paddockd by design: end the ones of this state dir.
  for (const auto& d : fs::directory_iterator(stateDir_ + "/networks", ec)) {
    if (auto pid = readFile(d.path().string() + "/dnsmasq.pid")) {
      pid_t p = static_cast<pid_t>(std::atol(pid->c_str()));
      if (processMatches(p, "dnsmasq")) kill(p, SIGKILL);
    }
  }
  if (!netns_.empty()) {
    // Helpers a test started in the namespace (web servers and the like) go with it.
    auto pids = runCommand({"ip", "netns", "pids", netns_}, std::chrono::seconds(10));
    if (pids) {
      std::istringstream in(pids->out);
      for (pid_t p; in >> p;) kill(p, SIGKILL);
    }
    // Remove what is left inside first: on some kernels (gVisor) links of a deleted namespace
    // end up in the host's.
    auto links = inNetns({"ip", "-o", "link", "show"});
    std::istringstream in(links.out);
    for (std::string line; std::getline(in, line);) {
      auto colon = line.find(": ");
      if (colon == std::string::npos) continue;
      std::string name = line.substr(colon + 2, line.find_first_of(":@", colon + 2) - colon - 2);
      if (name != "lo") (void)inNetns({"ip", "link", "del", name});
    }
    (void)runCommand({"ip", "netns", "del", netns_}, std::chrono::seconds(10));
    (void)removeAll("/etc/netns/" + netns_);
  }
  fs::remove_all(stateDir_, ec);
  // The daemon's log helps when a test failed; otherwise it goes too.
  if (!::testing::Test::HasFailure()) fs::remove(stateDir_ + ".log", ec);
}

int TestDaemon::tcpPort() const {
  auto log = readFile(stateDir_ + ".log");
  if (!log) return 0;
  // "listening on HOST:PORT (bearer token ...)"
  auto at = log->rfind("listening on ");
  if (at == std::string::npos) return 0;
  auto space = log->find(' ', at + 13);
  auto colon = log->rfind(':', space);
  return colon == std::string::npos || colon < at ? 0 : std::atoi(log->c_str() + colon + 1);
}

void TestDaemon::start() {
  std::vector<std::string> argv;
  if (!netns_.empty()) argv = {"ip", "netns", "exec", netns_};
  if (runAs_ != 0) {
    std::string id = std::to_string(runAs_);
    argv.insert(argv.end(), {"setpriv", "--reuid=" + id, "--regid=" + id, "--clear-groups"});
  }
  argv.insert(argv.end(), {PADDOCKD_BIN, "--state-dir", stateDir_, "--image-dir", imageDir()});
  argv.insert(argv.end(), extraArgs_.begin(), extraArgs_.end());
  auto pid = spawnDetached(argv, stateDir_ + ".log");
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  pid_ = *pid;
  client_.reset();
  bool up = waitFor([&] { return api().call("GET", "/v1/host").ok(); }, std::chrono::seconds(60));
  ASSERT_TRUE(up) << "paddockd did not come up; log: " << readFile(stateDir_ + ".log").value();
}

void TestDaemon::kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
  client_.reset();
}

void TestDaemon::stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  bool gone =
      waitFor([&] { return waitpid(pid_, nullptr, WNOHANG) == pid_; }, std::chrono::seconds(20));
  if (!gone) {
    ADD_FAILURE() << "paddockd did not stop within 20 s of SIGTERM";
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_ = 0;
  client_.reset();
}

PaddockClient& TestDaemon::api() {
  if (!client_) {
    ClientOptions o;
    o.endpoint = socket();
    client_ = std::move(PaddockClient::connect(o).value());
  }
  return *client_;
}

CliResult TestDaemon::cli(const std::vector<std::string>& args, const std::string& input) {
  std::string in = stateDir_ + "/.cli-stdin";
  (void)writeFileAtomic(in, input);
  std::string cmd = std::string("exec ") + PADDOCK_BIN + " --host '" + socket() + "'";
  for (const auto& a : args) {
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += " " + quoted + "'";
  }
  cmd += " < '" + in + "'";
  auto r = runCommand({"sh", "-c", cmd}, std::chrono::minutes(5));
  CliResult out;
  if (!r) {
    out.err = r.error().message;
    return out;
  }
  out.code = r->exitCode;
  out.out = r->out;
  out.err = r->err;
  return out;
}

nlohmann::json TestDaemon::createVm(const std::string& name, nlohmann::json extra) {
  nlohmann::json spec = {{"name", name},
                         {"memory_mib", 192},
                         {"image", "tiny"},
                         {"disks", {{{"name", "root"}, {"size_mib", 64}}}}};
  if (extra.is_object()) spec.update(extra);
  auto r = api().call("POST", "/v1/vms", spec);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : nlohmann::json();
}

nlohmann::json TestDaemon::vm(const std::string& name) {
  auto r = api().call("GET", "/v1/vms/" + name);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : nlohmann::json();
}

void TestDaemon::startVm(const std::string& name, bool waitReady) {
  auto op = api().call("POST", "/v1/vms/" + name + "/actions/start", {{"wait_ready", waitReady}});
  ASSERT_TRUE(op.ok()) << op.error().message;
  auto r = api().waitOperation(op->value("id", int64_t{0}), nullptr);
  ASSERT_TRUE(r.ok()) << "start " << name << ": " << r.error().message;
}

void TestDaemon::forceStopAll() {
  auto all = api().call("GET", "/v1/vms");
  if (!all) return;
  for (const auto& v : (*all)["vms"]) {
    std::string state = v.value("state", "");
    if (state == "running" || state == "paused" || state == "starting" || state == "stopping")
      (void)api().call("POST", "/v1/vms/" + v.value("name", "") + "/actions/stop",
                       nlohmann::json::object());
  }
}

}  // namespace paddock::test
