// Test harness: a real paddockd in a temporary state dir, the real CLI, real QEMU guests (TCG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/paddock_client.h"
#include "common/subprocess.h"

namespace paddock::test {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const;
};

struct DaemonOptions {
  std::vector<std::string> extraArgs;
  // Run paddockd in a network namespace of its own (created and removed by the harness), so
  // bridges, TAPs and dnsmasq never touch the host's network.
  bool ownNetns = false;
  // With ownNetns: the daemon's /etc/resolv.conf (through /etc/netns/<ns>/, which `ip netns exec`
  // binds over /etc); empty: a file with no servers.
  std::string resolvConf;
  // Run paddockd as this uid/gid (both) instead of root; 0: as root. The state dir is theirs.
  uid_t runAs = 0;
};

class TestDaemon {
 public:
  explicit TestDaemon(std::vector<std::string> extraArgs = {});
  explicit TestDaemon(DaemonOptions options);
  ~TestDaemon();

  void start();
  // SIGKILL: the daemon gets no chance to clean up.
  void kill9();
  // SIGTERM and wait.
  void stop();
  pid_t pid() const { return pid_; }

  const std::string& stateDir() const { return stateDir_; }
  const std::string& netns() const { return netns_; }
  // Runs a command in the daemon's network namespace (or here, without one).
  CommandOutput inNetns(const std::vector<std::string>& argv);
  std::string socket() const { return stateDir_ + "/paddockd.sock"; }
  // With "--listen HOST:0": the TCP port this run bound (from its log), or 0.
  int tcpPort() const;
  std::string tokenFile() const { return stateDir_ + "/token"; }
  PaddockClient& api();
  // Runs `paddock --host <socket> args...` with `input` on stdin.
  CliResult cli(const std::vector<std::string>& args, const std::string& input = "");

  // Convenience over the API; each fails the current test on error.
  nlohmann::json createVm(const std::string& name, nlohmann::json extra = {});
  nlohmann::json vm(const std::string& name);
  void startVm(const std::string& name, bool waitReady = true);
  void forceStopAll();

 private:
  std::vector<std::string> extraArgs_;
  uid_t runAs_ = 0;
  std::string netns_;
  std::string stateDir_;
  pid_t pid_ = 0;
  std::unique_ptr<PaddockClient> client_;
};

// Polls `check` every 50 ms until it holds or `timeout` passes.
bool waitFor(const std::function<bool()>& check, std::chrono::milliseconds timeout);
bool processAlive(pid_t pid);
// Shared across tests: built once by the tiny_image fixture.
std::string imageDir();

}  // namespace paddock::test
