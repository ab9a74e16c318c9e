// One running qemu-system process: its QMP connection, console and exit watcher.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/console_mux.h"
#include "engine/engine.h"
#include "engine/qemu/qmp_block_jobs.h"
#include "engine/qemu/qmp_client.h"
#include "engine/qemu/qmp_stats_monitor.h"

namespace paddock {

class QemuProcess : public VmProcess {
 public:
  // Spawns QEMU for `spec` and connects to it; on failure nothing is left running.
  static Result<std::unique_ptr<QemuProcess>> launch(const LaunchSpec& spec,
                                                     VmProcessCallbacks callbacks);
  // Attaches to the QEMU whose pidfile is in `runDir`.
  static Result<std::unique_ptr<QemuProcess>> attach(const std::string& name,
                                                     const std::string& runDir,
                                                     VmProcessCallbacks callbacks);
  ~QemuProcess() override;

  pid_t pid() const override { return pid_; }
  Result<std::string> queryStatus() override;
  Status pause() override;
  Status resume() override;
  Status powerdown() override;
  Status reset() override;
  Status forceStop() override;
  ConsoleMux& console() override { return *console_; }
  Status hotplugNic(const LaunchNic& nic) override;
  Status unplugNic(const LaunchNic& nic) override;
  Result<std::vector<std::int64_t>> vcpuThreads() override;
  Deferred<std::vector<DiskCounters>> requestDiskCounters() override;
  Deferred<MemoryCounters> requestMemoryCounters() override;
  Status setBalloon(std::uint64_t bytes) override;
  Status setDiskLimits(const std::string& disk, const DiskLimits& limits) override;
  Status snapshotCreate(const std::string& tag, const std::vector<std::string>& disks,
                        bool memory) override;
  Status snapshotLoad(const std::string& tag, const std::vector<std::string>& disks) override;
  Status snapshotDelete(const std::string& tag, const std::vector<std::string>& disks) override;
  Status saveState(const std::string& path, const std::function<void(int)>& progress) override;
  Status waitIncoming(std::chrono::milliseconds timeout) override;
  Status exportDisks(const std::string& host, int port,
                     const std::vector<std::string>& disks) override;
  Status stopDiskExports() override;
  Status acceptPostCopy() override;
  Status recoverPostCopy(const std::string& host, int port) override;
  Result<LiveMigrationResult> migrateLive(
      const LiveMigrationParams& params,
      const std::function<bool(const LiveMigrationProgress&)>& progress) override;
  BlockJobs& blockJobs() override { return *blockJobs_; }

 private:
  static constexpr const char* kBalloonPath = "/machine/peripheral/balloon0";
  static constexpr int kGuestStatsSeconds = 2;
  static constexpr std::chrono::milliseconds kStatsTimeout{5000};
  QemuProcess(std::string name, RunPaths paths, pid_t pid, int pidfd, bool isChild,
              VmProcessCallbacks callbacks);
  Status connect();
  void cancelOrphanedMigration();
  void onQmpEvent(const qmp::Event& event);
  void watchExit();
  VmExit describeExit(int waitStatus, bool haveStatus);
  // The first NIC root port with nothing plugged in, asked from QEMU (see hotplugNic).
  Result<std::string> freeNicPort();

  std::string name_;
  RunPaths paths_;
  pid_t pid_;
  int pidfd_;
  bool isChild_;
  int stopFd_;  // eventfd: wakes the exit watcher when we detach
  VmProcessCallbacks callbacks_;
  std::unique_ptr<qmp::QmpClient> qmp_;
  // Only the collector's thread asks for disk counters (VmProcess::requestDiskCounters).
  qmp::StatsMonitor stats_{paths_.statsQmp()};
  bool statsAbsent_ = false;
  std::unique_ptr<QmpBlockJobs> blockJobs_;
  std::unique_ptr<ConsoleMux> console_;
  std::thread watcher_;
  std::mutex mutex_;
  std::mutex vcpuMutex_;
  std::vector<std::int64_t> vcpuThreads_;  // cached by vcpuThreads()
  // The balloon's size in bytes, -1 until known: asked once, then kept by BALLOON_CHANGE events
  // (QEMU sends one whenever the guest moves the balloon), so sampling needs no query-balloon.
  std::atomic<std::int64_t> balloonBytes_{-1};
  std::mutex hotplugMutex_;     // one NIC change at a time, so two never pick the same port
  std::string shutdownReason_;  // from QEMU's SHUTDOWN event, if one came
  std::atomic<bool> forceStopRequested_{false};
  std::atomic<bool> exited_{false};
  std::mutex exitMutex_;  // with exitCv_: forceStop waits for the watcher to see the exit
  std::condition_variable exitCv_;
  bool waitExited(std::chrono::steady_clock::time_point deadline);
};

}  // namespace paddock
