#include "engine/qemu/qemu_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "common/subprocess.h"
#include "engine/qemu/nic_device.h"
#include "engine/qemu/qemu_argv.h"
#include "engine/qemu/qmp_raw_reply.h"

namespace paddock {

namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(15);
constexpr auto kQuitGrace = std::chrono::seconds(5);
// The guest has to release an unplugged NIC; the tiny guest takes about a second under TCG.
constexpr auto kUnplugTimeout = std::chrono::seconds(15);

int pidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

std::string lastLines(const std::string& path, size_t n) {
  auto text = readFile(path);
  if (!text) return "";
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text->size()) {
    size_t end = text->find('\n', begin);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(std::move(line));
    begin = end + 1;
  }
  std::string tail;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i)
    tail += (tail.empty() ? "" : " ") + lines[i];
  return tail;
}

std::string shutdownReasonText(const std::string& reason) {
  if (reason == "guest-shutdown") return "guest powered off";
  if (reason == "host-qmp-quit") return "stopped by paddock";
  if (reason == "host-signal") return "QEMU terminated by a signal";
  if (reason == "guest-panic") return "guest kernel panicked";
  return "QEMU shut down (" + reason + ")";
}

}  // namespace

QemuProcess::QemuProcess(std::string name, RunPaths paths, pid_t pid, int pidfd, bool isChild,
                         VmProcessCallbacks callbacks)
    : name_(std::move(name)),
      paths_(std::move(paths)),
      pid_(pid),
      pidfd_(pidfd),
      isChild_(isChild),
      stopFd_(eventfd(0, EFD_CLOEXEC)),
      callbacks_(std::move(callbacks)) {}

Result<std::unique_ptr<QemuProcess>> QemuProcess::launch(const LaunchSpec& spec,
                                                         VmProcessCallbacks callbacks) {
  RunPaths paths{spec.runDir};
  PADDOCK_TRY(makeDirs(paths.dir, 0700));
  for (const auto& stale : {paths.qmp(), paths.statsQmp(), paths.console(), paths.pidfile()})
    unlink(stale.c_str());
  auto pid = spawnDetached(buildQemuArgv(spec), paths.qemuLog());
  if (!pid) return pid.error();
  int pidfd = pidfdOpen(*pid);
  std::unique_ptr<QemuProcess> p(
      new QemuProcess(spec.name, paths, *pid, pidfd, true, std::move(callbacks)));
  if (auto s = p->connect(); !s) {
    kill(*pid, SIGKILL);
    int status = 0;
    waitpid(*pid, &status, 0);
    p->exited_ = true;
    std::string log = lastLines(paths.qemuLog(), 3);
    return makeError(Errc::unavailable, fmt::format("QEMU for '{}' did not start: {}", spec.name,
                                                    log.empty() ? s.error().message : log));
  }
  p->watcher_ = std::thread([raw = p.get()] { raw->watchExit(); });
  return p;
}

Result<std::unique_ptr<QemuProcess>> QemuProcess::attach(const std::string& name,
                                                         const std::string& runDir,
                                                         VmProcessCallbacks callbacks) {
  RunPaths paths{runDir};
  auto pidText = readFile(paths.pidfile());
  if (!pidText) return makeError(Errc::not_found, fmt::format("VM '{}' has no pidfile", name));
  pid_t pid = static_cast<pid_t>(std::atol(pidText->c_str()));
  if (!processMatches(pid, kQemuBinary))
    return makeError(Errc::not_found, fmt::format("QEMU of VM '{}' (pid {}) is gone", name, pid));
  int pidfd = pidfdOpen(pid);
  if (pidfd < 0)
    return makeError(Errc::not_found, fmt::format("QEMU of VM '{}' (pid {}) is gone", name, pid));
  std::unique_ptr<QemuProcess> p(
      new QemuProcess(name, paths, pid, pidfd, false, std::move(callbacks)));
  PADDOCK_TRY(p->connect());
  p->cancelOrphanedMigration();
  p->watcher_ = std::thread([raw = p.get()] { raw->watchExit(); });
  return p;
}

// A suspend (migration to a file) that an earlier paddockd started and did not live to finish
// may still be running: left alone it would pause the guest again when it completes, and its
// file is already gone. It is cancelled; the guest stays paused, and resume continues it.
void QemuProcess::cancelOrphanedMigration() {
  auto m = qmp_->queryMigrate();
  if (!m || (m->status != "active" && m->status != "setup" && m->status != "pre-switchover" &&
             m->status != "device"))
    return;
  spdlog::info("VM {}: cancelling a migration left by an earlier paddockd", name_);
  (void)qmp_->migrateCancel();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    m = qmp_->queryMigrate();
    if (!m || m->status == "cancelled" || m->status == "completed" || m->status == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status QemuProcess::connect() {
  qmp::QmpCallbacks cbs;
  cbs.onEvent = [this](const qmp::Event& e) { onQmpEvent(e); };
  auto client = qmp::QmpClient::connect(paths_.qmp(), kConnectTimeout, std::move(cbs));
  if (!client) return client.error();
  qmp_ = std::move(*client);
  blockJobs_ = std::make_unique<QmpBlockJobs>(*qmp_);
  // The guest's balloon driver reports its memory every few seconds from now on (a VM adopted
  // from an earlier paddockd has this already; setting it again is harmless).
  if (auto s = qmp_->setGuestStatsInterval(kBalloonPath, kGuestStatsSeconds); !s)
    spdlog::warn("VM {}: no guest memory statistics: {}", name_, s.error().message);
  ConsoleMux::Options opts;
  opts.socketPath = paths_.console();
  opts.logPath = paths_.consoleLog();
  opts.onReady = [this](const std::string& line) {
    if (callbacks_.onReady) callbacks_.onReady(line);
  };
  auto console = ConsoleMux::open(std::move(opts), kConnectTimeout);
  if (!console) return console.error();
  console_ = std::move(*console);
  return {};
}

QemuProcess::~QemuProcess() {
  uint64_t one = 1;
  if (::write(stopFd_, &one, sizeof one) < 0) spdlog::warn("cannot wake exit watcher of {}", name_);
  if (watcher_.joinable()) watcher_.join();
  blockJobs_.reset();
  qmp_.reset();
  console_.reset();
  if (pidfd_ >= 0) close(pidfd_);
  close(stopFd_);
}

void QemuProcess::onQmpEvent(const qmp::Event& event) {
  if (event.name == "SHUTDOWN") {
    std::lock_guard lock(mutex_);
    shutdownReason_ = event.data.value("reason", "unknown");
  } else if (event.name == "STOP") {
    if (callbacks_.onPausedChanged) callbacks_.onPausedChanged(true);
  } else if (event.name == "RESUME") {
    if (callbacks_.onPausedChanged) callbacks_.onPausedChanged(false);
  } else if (event.name == "RESET") {
    if (console_) console_->rearmReady();
    if (callbacks_.onReset) callbacks_.onReset();
  } else if (event.name == "BALLOON_CHANGE") {
    if (auto actual = event.data.find("actual");
        actual != event.data.end() && actual->is_number_unsigned())
      balloonBytes_ = static_cast<std::int64_t>(actual->get<std::uint64_t>());
  }
}

void QemuProcess::watchExit() {
  pollfd fds[2] = {{pidfd_, POLLIN, 0}, {stopFd_, POLLIN, 0}};
  for (;;) {
    int n = poll(fds, pidfd_ >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (fds[1].revents & POLLIN) return;  // detaching: the VM keeps running
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) break;
  }
  int status = 0;
  bool haveStatus = false;
  if (isChild_) {
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    haveStatus = true;
  } else if (waitpid(pid_, &status, WNOHANG) == pid_) {
    // Attached, yet our child (a live migration's target QEMU, taken over): reaped here.
    haveStatus = true;
  }
  {
    std::lock_guard lock(exitMutex_);
    exited_ = true;
  }
  exitCv_.notify_all();
  VmExit exit = describeExit(status, haveStatus);
  spdlog::info("VM {}: QEMU pid {} ended: {}", name_, pid_, exit.reason);
  if (callbacks_.onExit) callbacks_.onExit(exit);
}

VmExit QemuProcess::describeExit(int waitStatus, bool haveStatus) {
  std::string shutdown;
  {
    std::lock_guard lock(mutex_);
    shutdown = shutdownReason_;
  }
  if (forceStopRequested_) return {false, "forced off"};
  if (!shutdown.empty()) return {shutdown == "guest-panic", shutdownReasonText(shutdown)};
  std::string log = lastLines(paths_.qemuLog(), 2);
  std::string why = haveStatus ? "QEMU " + describeWaitStatus(waitStatus)
                               : "QEMU exited without a shutdown event";
  if (!log.empty()) why += " — last log: " + log;
  return {true, why};
}

Result<std::string> QemuProcess::queryStatus() {
  auto st = qmp_->queryStatus();
  if (!st) return st.error();
  return st->status;
}

Result<std::vector<std::int64_t>> QemuProcess::vcpuThreads() {
  // No vCPU hot-plug, so asking once is enough. Not under mutex_: QMP event callbacks take that
  // one, and a reply can queue behind an event.
  std::lock_guard lock(vcpuMutex_);
  if (vcpuThreads_.empty()) {
    auto cpus = qmp_->queryCpusFast();
    if (!cpus) return cpus.error();
    std::vector<std::int64_t> threads;
    for (const auto& cpu : *cpus) {
      if (cpu.cpuIndex >= static_cast<int>(threads.size()))
        threads.resize(static_cast<size_t>(cpu.cpuIndex) + 1, 0);
      threads[static_cast<size_t>(cpu.cpuIndex)] = cpu.threadId;
    }
    vcpuThreads_ = std::move(threads);
  }
  return vcpuThreads_;
}

Deferred<std::vector<DiskCounters>> QemuProcess::requestDiskCounters() {
  // The collector's own monitor, read by the collector's thread when it takes the answer. A
  // QEMU started by a paddockd before it existed has none: the shared transport answers.
  if (!statsAbsent_) {
    auto asked = stats_.ask("query-blockstats");
    if (asked.ok()) {
      auto deadline = qmp::StatsMonitor::Clock::now() + kStatsTimeout;
      return [this, deadline]() -> Result<std::vector<DiskCounters>> {
        auto line = stats_.take(deadline);
        if (!line) return line.error();
        return qmp::parseBlockstatsReply(*line);
      };
    }
    if (asked.error().code != Errc::not_found)
      return [e = asked.error()]() -> Result<std::vector<DiskCounters>> { return e; };
    statsAbsent_ = true;
  }
  return qmp_->requestBlockstats();
}

Deferred<MemoryCounters> QemuProcess::requestMemoryCounters() {
  Deferred<std::uint64_t> balloon;
  if (std::int64_t known = balloonBytes_; known >= 0)
    balloon = [known]() -> Result<std::uint64_t> { return static_cast<std::uint64_t>(known); };
  else
    balloon = qmp_->requestBalloon();
  auto guest = qmp_->requestGuestMemoryStats(kBalloonPath);
  return
      [this, balloon = std::move(balloon), guest = std::move(guest)]() -> Result<MemoryCounters> {
        MemoryCounters c;
        auto actual = balloon();
        auto g = guest();  // taken either way, so the transport forgets nothing half-done
        if (!actual) return actual.error();
        // A BALLOON_CHANGE that came in meanwhile is newer than this answer: it stays.
        std::int64_t unknown = -1;
        balloonBytes_.compare_exchange_strong(unknown, static_cast<std::int64_t>(*actual));
        c.balloonBytes = static_cast<std::uint64_t>(balloonBytes_.load());
        // Before the guest's first report (and with a guest without the driver) this stays -1.
        if (g && g->lastUpdate > 0) {
          c.guestFreeBytes = g->freeBytes;
          c.guestAvailableBytes = g->availableBytes;
        }
        return c;
      };
}

Status QemuProcess::setBalloon(std::uint64_t bytes) {
  return qmp_->balloon(bytes);
}

Status QemuProcess::setDiskLimits(const std::string& disk, const DiskLimits& limits) {
  // virtio-blk-pci is a proxy: the block backend hangs off its inner virtio device.
  std::string group = limits.group.empty() ? "disk-" + disk : "group-" + limits.group;
  return qmp_->blockSetIoThrottle("/machine/peripheral/disk-" + disk + "/virtio-backend", limits,
                                  group);
}

namespace {

nlohmann::json nodeNames(const std::vector<std::string>& disks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : disks) out.push_back("drive-" + d);
  return out;
}

constexpr std::chrono::minutes kSnapshotTimeout{10};

}  // namespace

Status QemuProcess::snapshotCreate(const std::string& tag, const std::vector<std::string>& disks,
                                   bool memory) {
  if (disks.empty())
    return makeError(Errc::invalid_argument, "a VM without disks has nowhere to keep a snapshot");
  if (memory)
    return qmp_->runJob(
        "snapshot-save",
        {{"tag", tag}, {"vmstate", "drive-" + disks[0]}, {"devices", nodeNames(disks)}},
        "snapshot-save-" + tag, kSnapshotTimeout);
  nlohmann::json actions = nlohmann::json::array();
  for (const auto& d : disks)
    actions.push_back({{"type", "blockdev-snapshot-internal-sync"},
                       {"data", {{"device", "drive-" + d}, {"name", tag}}}});
  return qmp_->transaction(actions);
}

Status QemuProcess::snapshotLoad(const std::string& tag, const std::vector<std::string>& disks) {
  if (disks.empty()) return makeError(Errc::invalid_argument, "the VM has no disks");
  return qmp_->runJob(
      "snapshot-load",
      {{"tag", tag}, {"vmstate", "drive-" + disks[0]}, {"devices", nodeNames(disks)}},
      "snapshot-load-" + tag, kSnapshotTimeout);
}

Status QemuProcess::snapshotDelete(const std::string& tag, const std::vector<std::string>& disks) {
  // A save of this tag that an earlier, killed paddockd started may still be running: let it
  // finish first, or the delete would race it.
  // (No such job is the usual case; whether that save worked does not matter here.)
  if (auto s = qmp_->awaitJob("snapshot-save-" + tag, kSnapshotTimeout);
      !s && (s.error().code == Errc::timeout || s.error().code == Errc::internal))
    return s;
  return qmp_->runJob("snapshot-delete", {{"tag", tag}, {"devices", nodeNames(disks)}},
                      "snapshot-delete-" + tag, kSnapshotTimeout);
}

Status QemuProcess::saveState(const std::string& path, const std::function<void(int)>& progress) {
  if (path.find('\'') != std::string::npos)
    return makeError(Errc::invalid_argument, "a state file path cannot contain a quote");
  PADDOCK_TRY(qmp_->stop());
  PADDOCK_TRY(qmp_->migrate("exec:cat > '" + path + "'"));
  for (;;) {
    auto m = qmp_->queryMigrate();
    if (!m) return m.error();
    if (m->status == "completed") return {};
    if (m->status == "failed" || m->status == "cancelled")
      return makeError(Errc::unavailable, fmt::format("saving the VM's state failed: {}",
                                                      m->error.empty() ? m->status : m->error));
    if (progress && m->total > 0)
      progress(static_cast<int>(std::min<std::uint64_t>(99, m->transferred * 100 / m->total)));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status QemuProcess::waitIncoming(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto status = qmp_->queryStatus();
    if (!status) return status.error();
    if (status->status != "inmigrate") return {};
    if (std::chrono::steady_clock::now() > deadline)
      return makeError(Errc::timeout, "loading the saved state did not finish in time");
    // Short: a live migration's guest waits paused for this (its switch-over).
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status QemuProcess::pause() {
  return qmp_->stop();
}
Status QemuProcess::resume() {
  return qmp_->cont();
}
Status QemuProcess::powerdown() {
  return qmp_->systemPowerdown();
}
Status QemuProcess::reset() {
  return qmp_->systemReset();
}

Status QemuProcess::forceStop() {
  forceStopRequested_ = true;
  (void)qmp_->quit();
  if (!waitExited(std::chrono::steady_clock::now() + kQuitGrace)) kill(pid_, SIGKILL);
  (void)waitExited(std::chrono::steady_clock::time_point::max());
  return {};
}

bool QemuProcess::waitExited(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(exitMutex_);
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    exitCv_.wait(lock, [this] { return exited_.load(); });
    return true;
  }
  return exitCv_.wait_until(lock, deadline, [this] { return exited_.load(); });
}

// Which root ports are in use is asked from QEMU each time instead of being remembered: QEMU is
// the only place that knows after a daemon restart (adoption needs nothing), after an unplug that
// the guest finished late, or for a VM started by a paddockd with a different port count. The
// ports are the "hp<N>" entries of /machine/peripheral; a port's secondary bus (named like the
// port) has a "child[N]" link per plugged device. Unlike query-pci this does not depend on the
// bus numbers the guest firmware assigned.
Result<std::string> QemuProcess::freeNicPort() {
  auto peripherals = qmp_->qomList("/machine/peripheral");
  if (!peripherals) return peripherals.error();
  std::vector<std::pair<int, std::string>> ports;
  const std::string prefix = kNicPortPrefix;
  for (const auto& p : *peripherals) {
    if (p.type != "child<pcie-root-port>" || p.name.rfind(prefix, 0) != 0) continue;
    std::string digits = p.name.substr(prefix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    ports.emplace_back(std::stoi(digits), p.name);
  }
  std::sort(ports.begin(), ports.end());
  if (ports.empty())
    return makeError(Errc::conflict,
                     fmt::format("VM '{}' was started without hot-plug ports: restart it to "
                                 "change its NICs while it runs",
                                 name_));
  for (const auto& [index, port] : ports) {
    auto bus = qmp_->qomList("/machine/peripheral/" + port + "/" + port);
    if (!bus) return bus.error();
    bool used = std::any_of(bus->begin(), bus->end(), [](const qmp::QomProperty& p) {
      return p.name.rfind("child[", 0) == 0;
    });
    if (!used) return port;
  }
  return makeError(Errc::conflict, fmt::format("VM '{}' has no free hot-plug port (all {} in use)",
                                               name_, ports.size()));
}

Status QemuProcess::hotplugNic(const LaunchNic& nic) {
  std::lock_guard lock(hotplugMutex_);
  auto port = freeNicPort();
  if (!port) return port.error();
  auto device = nicDevice(nic, *port);
  PADDOCK_TRY(qmp_->netdevAdd(device.netdev));
  if (auto s = qmp_->deviceAdd(device.device); !s) {
    if (auto undo = qmp_->netdevDel(nicNetdevId(nic.id)); !undo)
      spdlog::warn("VM {}: cannot remove netdev {} after a failed device_add: {}", name_,
                   nicNetdevId(nic.id), undo.error().message);
    return s.error();
  }
  spdlog::info("VM {}: NIC {} ({}) plugged into {}", name_, nic.mac, nic.tap, *port);
  return {};
}

Status QemuProcess::unplugNic(const LaunchNic& nic) {
  std::lock_guard lock(hotplugMutex_);
  auto peripherals = qmp_->qomList("/machine/peripheral");
  if (!peripherals) return peripherals.error();
  std::string deviceId = nicDeviceId(nic.id);
  bool present = std::any_of(peripherals->begin(), peripherals->end(),
                             [&](const qmp::QomProperty& p) { return p.name == deviceId; });
  if (present) PADDOCK_TRY(qmp_->deviceDel(deviceId, kUnplugTimeout));
  // The backend goes once the device is gone. A missing one was removed by an earlier attempt.
  if (auto s = qmp_->netdevDel(nicNetdevId(nic.id));
      !s && s.error().message.find("not found") == std::string::npos)
    return s.error();
  spdlog::info("VM {}: NIC {} unplugged", name_, nic.id);
  return {};
}

}  // namespace paddock
