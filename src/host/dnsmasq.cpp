// Dnsmasq: one daemon per network. It is left to daemonize itself (double fork, setsid), so it
// is re-parented away from paddockd and survives it, startup errors come back synchronously on
// stderr with a non-zero exit, and by the time the command returns the pid file is written.
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "common/files.h"
#include "host/dnsmasq_config.h"
#include "host/host_command.h"
#include "host/net_host.h"

namespace paddock::host {

namespace {

// Alive and not a zombie (a daemon whose reaper is slow still shows up in /proc).
bool processAlive(pid_t pid) {
  auto stat = readFile(fmt::format("/proc/{}/stat", pid));
  if (!stat) return false;
  auto close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return false;
  char state = (*stat)[close + 2];
  return state != 'Z' && state != 'X';
}

std::optional<pid_t> readPidFile(const std::string& path) {
  auto text = readFile(path);
  if (!text) return std::nullopt;
  std::string s = firstLine(*text);
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), pid);
  if (ec != std::errc() || end != s.data() + s.size() || pid <= 1) return std::nullopt;
  return pid;
}

bool waitGone(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (processAlive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Writes `path` only when its content differs; true if it changed.
Result<bool> writeIfChanged(const std::string& path, const std::string& content) {
  auto old = readFile(path);
  if (old && *old == content) return false;
  PADDOCK_TRY(writeFileAtomic(path, content, 0644));
  return true;
}

}  // namespace

std::optional<pid_t> Dnsmasq::running(const std::string& dir) {
  auto pid = readPidFile(dnsmasqPidPath(dir));
  if (!pid || !processAlive(*pid)) return std::nullopt;
  auto comm = readFile(fmt::format("/proc/{}/comm", *pid));
  if (!comm || firstLine(*comm) != "dnsmasq") return std::nullopt;
  // The pid could have been reused by another dnsmasq (libvirt's, another network's).
  auto cmdline = readFile(fmt::format("/proc/{}/cmdline", *pid));
  std::string confArg = "--conf-file=" + dnsmasqConfPath(dir);
  if (!cmdline || cmdline->find(confArg + '\0') == std::string::npos) return std::nullopt;
  return *pid;
}

Result<pid_t> Dnsmasq::start(const DnsmasqConfig& config) {
  PADDOCK_TRY(validateDnsmasqConfig(config));
  PADDOCK_TRY(makeDirs(config.dir, 0700));
  std::string conf = renderDnsmasqConf(config);
  if (auto pid = running(config.dir)) {
    auto old = readFile(dnsmasqConfPath(config.dir));
    if (old && *old == conf) {
      // Already serving this configuration: only the reservations may need a reload.
      PADDOCK_TRY(updateHosts(config));
      return *pid;
    }
    // dnsmasq re-reads only its hosts files on SIGHUP; anything else takes a restart. The
    // lease file is kept, so guests keep their addresses.
    PADDOCK_TRY(stop(config.dir));
  }
  PADDOCK_TRY(writeFileAtomic(dnsmasqConfPath(config.dir), conf, 0644));
  PADDOCK_TRY(writeFileAtomic(dnsmasqHostsPath(config.dir), renderDhcpHosts(config), 0644));
  ::unlink(dnsmasqPidPath(config.dir).c_str());
  auto out = runChecked({"dnsmasq", "--conf-file=" + dnsmasqConfPath(config.dir)},
                        fmt::format("network {}: cannot start dnsmasq", config.network));
  if (!out) return out.error();
  // The daemon writes its pid file before its parent exits; allow a moment all the same.
  for (int i = 0; i < 100; ++i) {
    if (auto pid = running(config.dir)) return *pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return makeError(Errc::internal,
                   fmt::format("network {}: dnsmasq started but is not running; see {}",
                               config.network, dnsmasqLogPath(config.dir)));
}

Status Dnsmasq::updateHosts(const DnsmasqConfig& config) {
  PADDOCK_TRY(validateDnsmasqConfig(config));
  PADDOCK_TRY(makeDirs(config.dir, 0700));
  auto changed = writeIfChanged(dnsmasqHostsPath(config.dir), renderDhcpHosts(config));
  if (!changed) return changed.error();
  if (!*changed) return {};
  if (auto pid = running(config.dir); pid && ::kill(*pid, SIGHUP) != 0)
    return makeError(Errc::internal,
                     fmt::format("network {}: cannot signal dnsmasq (pid {}) to reload its hosts",
                                 config.network, *pid));
  return {};
}

Status Dnsmasq::stop(const std::string& dir) {
  auto pid = running(dir);
  if (pid) {
    ::kill(*pid, SIGTERM);
    if (!waitGone(*pid, std::chrono::seconds(2))) {
      ::kill(*pid, SIGKILL);
      if (!waitGone(*pid, std::chrono::seconds(2)))
        return makeError(
            Errc::internal,
            fmt::format("dnsmasq (pid {}) for {} did not exit after SIGKILL", *pid, dir));
    }
  }
  ::unlink(dnsmasqPidPath(dir).c_str());
  return {};
}

Result<std::vector<Lease>> Dnsmasq::leases(const std::string& dir) {
  std::string path = dnsmasqLeasesPath(dir);
  if (!pathExists(path)) return std::vector<Lease>{};
  auto text = readFile(path);
  if (!text) return text.error();
  return parseLeases(*text);
}

}  // namespace paddock::host
