// VmService's part of live migration: the source hands a running VM over, the target starts an
// unregistered QEMU that waits for the migration stream and adopts it once the state is there.
#include <signal.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/subprocess.h"
#include "services/lifecycle/vm_service.h"

namespace paddock {

Status VmService::handOverLive(const std::string& name,
                               const std::function<Status(const VmRecord&, VmProcess&)>& fn) {
  auto e = entry(name);
  if (!e) return e.error();
  {
    std::lock_guard action((*e)->action);
    auto rec = record(name);
    if (!rec) return rec.error();
    std::shared_ptr<VmProcess> p;
    {
      std::lock_guard slock((*e)->state);
      p = (*e)->process;
    }
    if ((rec->runtime.state != VmState::running && rec->runtime.state != VmState::paused) || !p)
      return makeError(Errc::conflict,
                       fmt::format("VM '{}' is {}: only a running or paused VM migrates live", name,
                                   vmStateName(rec->runtime.state)));
    PADDOCK_TRY(fn(*rec, *p));
    // The guest runs on the target now; this QEMU holds only a stale copy. Disks on shared
    // storage are the target's now.
    auto began = std::chrono::steady_clock::now();
    if (auto s = stopLocked(name, *e); !s)
      spdlog::warn("VM {}: ending the QEMU it left here: {}", name, s.error().message);
    auto stoppedAt = std::chrono::steady_clock::now();
    PADDOCK_TRY(eraseLocked(name, /*keepDisks=*/!rec->spec.storage.empty()));
    spdlog::debug("VM {}: source QEMU ended in {} ms, VM erased in {} ms", name,
                  std::chrono::duration_cast<std::chrono::milliseconds>(stoppedAt - began).count(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - stoppedAt)
                      .count());
  }
  {
    std::lock_guard lock(entriesMutex_);
    entries_.erase(name);
  }
  events_.publish("vm.deleted", "vm/" + name, {{"reason", "migrated live to another host"}});
  return {};
}

std::vector<std::string> VmService::sentAway() {
  std::vector<std::string> out;
  auto all = store_.listVms();
  if (!all) return out;
  for (const auto& rec : *all)
    if (auto r = record(rec.spec.name);
        r && r->runtime.state == VmState::paused && r->runtime.reason == kSentAwayReason)
      out.push_back(rec.spec.name);
  return out;
}

Status VmService::dropSentAway(const std::string& name, const std::string& peer) {
  auto e = entry(name);
  if (!e) return e.error();
  {
    std::lock_guard action((*e)->action);
    auto rec = record(name);
    if (!rec) return rec.error();
    if (rec->runtime.state != VmState::paused || rec->runtime.reason != kSentAwayReason)
      return makeError(Errc::conflict, fmt::format("VM '{}' is no longer paused after a live "
                                                   "migration",
                                                   name));
    if (auto s = stopLocked(name, *e); !s)
      spdlog::warn("VM {}: ending the QEMU it left here: {}", name, s.error().message);
    PADDOCK_TRY(eraseLocked(name, /*keepDisks=*/!rec->spec.storage.empty()));
  }
  {
    std::lock_guard lock(entriesMutex_);
    entries_.erase(name);
  }
  events_.publish("vm.deleted", "vm/" + name,
                  {{"reason", "migrated live to " + peer + " (found there after a restart)"}});
  return {};
}

Result<VmProcessPtr> VmService::startIncoming(const VmSpec& spec, const std::string& diskFolder,
                                              const std::string& accel,
                                              const std::string& listenHost, int port) {
  if (accel == "kvm") {
    auto here = accel_.resolve(Accel::kvm);
    if (!here) {
      Error e = here.error();
      e.message = "the VM runs under KVM on its host, and KVM does not work here: " + e.message;
      e.field = "accel";
      return e;
    }
  } else if (accel != "tcg") {
    return makeError(Errc::invalid_argument, "accel must be kvm or tcg", "accel");
  }
  auto launch = launchSpec(spec, diskFolder);
  if (!launch) return launch.error();
  launch->accel = accel;
  launch->listenHost = listenHost;
  launch->listenPort = port;
  if (auto s = resources_.admit(spec); !s) {
    nics_.detach(spec);
    return s.error();
  }
  VmProcessCallbacks cb;
  std::string name = spec.name;
  cb.onExit = [name](const VmExit& exit) {
    spdlog::info("arriving VM {}: its QEMU ended ({})", name, exit.reason);
  };
  auto proc = engine_.start(*launch, std::move(cb));
  if (!proc) {
    nics_.detach(spec);
    resources_.release(spec.name);
    (void)removeAll(runDir(spec.name));
    return proc.error();
  }
  return proc;
}

void VmService::discardIncoming(const VmSpec& spec, VmProcessPtr process) {
  if (process) {
    if (auto s = process->forceStop(); !s)
      spdlog::warn("arriving VM {}: cannot end its QEMU: {}", spec.name, s.error().message);
    process.reset();
  }
  nics_.detach(spec);
  resources_.release(spec.name);
  (void)removeAll(runDir(spec.name));
}

Result<VmRecord> VmService::adoptIncoming(const VmSpec& spec, const std::string& diskFolder,
                                          const std::string& accel, VmProcessPtr process, bool run,
                                          const std::string& reason) {
  auto status = process->queryStatus();
  if (!status || *status == "inmigrate") {
    discardIncoming(spec, std::move(process));
    return makeError(Errc::conflict,
                     status ? "the VM's state has not arrived (QEMU is still waiting for it)"
                            : "the arriving VM's QEMU is gone: " + status.error().message);
  }
  pid_t pid = process->pid();
  auto began = std::chrono::steady_clock::now();
  auto ms = [&began] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 began)
        .count();
  };
  auto rec = createImpl(spec, diskFolder, VmState::stopped, reason);
  auto registeredMs = ms();
  if (!rec) {
    discardIncoming(spec, std::move(process));
    return rec.error();
  }
  auto e = entry(spec.name);
  if (!e) return e.error();
  std::unique_lock action((*e)->action);
  // Taken over like a VM of an earlier paddockd: detach, then adopt with this VM's callbacks.
  process.reset();
  uint64_t generation;
  {
    std::lock_guard slock((*e)->state);
    generation = ++(*e)->generation;
  }
  auto adopted =
      engine_.adopt(spec.name, runDir(spec.name), callbacksFor(spec.name, *e, generation));
  auto adoptedMs = ms();
  if (adopted && run) {
    if (auto s = (*adopted)->resume(); !s) adopted = Result<VmProcessPtr>(s.error());
  }
  spdlog::debug("VM {}: arrived: registered at {} ms, QEMU adopted at {}, continued at {}",
                spec.name, registeredMs, adoptedMs, ms());
  if (adopted) {
    if (auto s = resources_.apply(spec, **adopted); !s)
      spdlog::warn("VM {}: resource controls after migration: {}", spec.name, s.error().message);
  }
  std::unique_lock slock((*e)->state);
  if (!adopted) {
    // The process is lost: the VM is not kept here (the source still has the guest, paused
    // after sending it, and resumes it when this commit fails).
    slock.unlock();
    if (pid > 0 && processMatches(pid, "qemu-system-x86_64")) ::kill(pid, SIGKILL);
    resources_.release(spec.name);
    (void)eraseLocked(spec.name, /*keepDisks=*/!spec.storage.empty());
    action.unlock();
    {
      std::lock_guard lock(entriesMutex_);
      entries_.erase(spec.name);
    }
    return makeError(adopted.error().code,
                     "taking over the arrived VM failed: " + adopted.error().message);
  }
  (*e)->process = std::shared_ptr<VmProcess>(std::move(*adopted));
  (*e)->runtime.pid = (*e)->process->pid();
  (*e)->runtime.accel = accel;
  (*e)->runtime.startedAtMs = nowMs();
  (*e)->runtime.readyAtMs = nowMs();  // the guest was ready on its host and continues
  (*e)->runtime.readyLine = "migrated";
  setState(spec.name, **e, run ? VmState::running : VmState::paused, reason);
  VmRecord out = *rec;
  out.runtime = (*e)->runtime;
  return out;
}

}  // namespace paddock
