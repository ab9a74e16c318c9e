// The engine runs VM processes. Services drive it through these interfaces and never see QEMU
// command lines or QMP; the engine never touches the store.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "engine/block_jobs.h"
#include "engine/launch_spec.h"
#include "engine/live_migration.h"
#include "engine/vm_counters.h"
#include "model/resource_spec.h"

namespace paddock {

class ConsoleMux;

struct VmExit {
  bool crashed = false;  // false: a clean power-off or a stop we asked for
  std::string reason;
};

// Called from engine threads; implementations must not call back into the VmProcess that
// invoked them synchronously (hand work to another thread if needed).
struct VmProcessCallbacks {
  std::function<void(const std::string& readyLine)> onReady;
  std::function<void(bool paused)> onPausedChanged;
  std::function<void()> onReset;
  std::function<void(const VmExit&)> onExit;  // exactly once, when the process is gone
};

class VmProcess {
 public:
  // Destroying a VmProcess detaches from the VM; it never stops it.
  virtual ~VmProcess() = default;
  virtual pid_t pid() const = 0;
  // "running", "paused", ... as QEMU reports it.
  virtual Result<std::string> queryStatus() = 0;
  virtual Status pause() = 0;
  virtual Status resume() = 0;
  // ACPI power button: the guest decides to power off.
  virtual Status powerdown() = 0;
  virtual Status reset() = 0;
  // Ends the process now (QMP quit, then SIGKILL if it lingers) and waits until it is gone.
  virtual Status forceStop() = 0;
  virtual ConsoleMux& console() = 0;
  // Plugs a NIC (its TAP already made) into a free hot-plug port of the running VM. conflict if
  // no port is free; on failure nothing of the NIC is left in QEMU.
  virtual Status hotplugNic(const LaunchNic& nic) = 0;
  // Unplugs a NIC (only `id` is used) and returns once the guest has released it and its backend
  // is gone, so its TAP can be removed. timeout if the guest does not release it in time (QEMU
  // keeps the request; calling again later finishes the job). A NIC already gone is success.
  virtual Status unplugNic(const LaunchNic& nic) = 0;
  // Host thread ids of the vCPUs, by vCPU index (asked once: they live as long as the process).
  virtual Result<std::vector<std::int64_t>> vcpuThreads() = 0;
  // Every disk's counters (one QMP query), asked now and answered when the result is called
  // (while the caller still holds the process), on the calling thread. One caller at a time
  // (the collector), and each request's result is called before the next request.
  virtual Deferred<std::vector<DiskCounters>> requestDiskCounters() = 0;
  // The balloon's and the guest's view of memory, likewise (one QMP query; the balloon's size is
  // asked only the first time, then kept current from QEMU's events).
  virtual Deferred<MemoryCounters> requestMemoryCounters() = 0;
  // Balloon target: the guest gives memory back until it has `bytes` (up to its configured size).
  virtual Status setBalloon(std::uint64_t bytes) = 0;
  // I/O limits of one disk (its Paddock id); zeros lift them.
  virtual Status setDiskLimits(const std::string& disk, const DiskLimits& limits) = 0;
  // Internal qcow2 snapshots named `tag` of `disks` (Paddock ids), atomically across them; with
  // `memory` also the machine state (stored in the first disk), else crash-consistent disks only.
  virtual Status snapshotCreate(const std::string& tag, const std::vector<std::string>& disks,
                                bool memory) = 0;
  // Loads a memory snapshot: the guest continues from where it was taken.
  virtual Status snapshotLoad(const std::string& tag, const std::vector<std::string>& disks) = 0;
  virtual Status snapshotDelete(const std::string& tag, const std::vector<std::string>& disks) = 0;
  // Pauses the guest and writes its whole running state to `path` (QEMU's migration stream);
  // `progress` gets the percentage written. The process keeps running, paused.
  virtual Status saveState(const std::string& path, const std::function<void(int)>& progress) = 0;
  // For a process started with LaunchSpec::incoming: waits until the saved state is loaded.
  virtual Status waitIncoming(std::chrono::milliseconds timeout) = 0;
  // Live migration, target side (a process started with LaunchSpec::listenHost): serves disks
  // `disks` (ids) writable over NBD on host:port for the source's mirrors.
  virtual Status exportDisks(const std::string& host, int port,
                             const std::vector<std::string>& disks) = 0;
  virtual Status stopDiskExports() = 0;
  // Target side, before the stream starts: lets the source switch to post-copy.
  virtual Status acceptPostCopy() = 0;
  // Target side, after a post-copy stream broke (both QEMUs wait in "postcopy-paused", the guest
  // here stalled on the pages it lacks): waits until this QEMU has seen the break, then listens
  // on host:port for the source to send the rest (LiveMigrationParams::recover).
  virtual Status recoverPostCopy(const std::string& host, int port) = 0;
  // Live migration, source side (see live_migration.h). `progress` is called a few times a
  // second; returning false cancels. On success the process is still there, paused with its
  // state sent: the caller either ends it (the target took over) or resumes it (the target
  // failed to). On failure or cancel the guest runs here as before, mirrors and NBD links gone.
  virtual Result<LiveMigrationResult> migrateLive(
      const LiveMigrationParams& params,
      const std::function<bool(const LiveMigrationProgress&)>& progress) = 0;
  // Dirty bitmaps and backups of the running VM's disks.
  virtual BlockJobs& blockJobs() = 0;
};

using VmProcessPtr = std::unique_ptr<VmProcess>;

struct AccelChoice {
  std::string accel;   // "kvm" or "tcg"
  std::string reason;  // why, for `paddock host info`
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual Result<VmProcessPtr> start(const LaunchSpec& spec, VmProcessCallbacks callbacks) = 0;
  // Reconnects to a VM started by an earlier paddockd; not_found if its process is gone.
  virtual Result<VmProcessPtr> adopt(const std::string& name, const std::string& runDir,
                                     VmProcessCallbacks callbacks) = 0;
  // Opens a stopped VM's disks for block jobs (a helper process; the VM must not start while
  // the session lives).
  virtual Result<std::unique_ptr<DiskSession>> openDisks(const std::string& name,
                                                         const std::vector<LaunchDisk>& disks,
                                                         const std::string& runDir) = 0;
  virtual std::string version() = 0;
};

}  // namespace paddock
