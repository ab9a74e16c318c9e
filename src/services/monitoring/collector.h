// The agentless collector: every interval it samples each running VM (QEMU's threads in /proc,
// QMP for disks and the balloon, the TAPs for NICs) and the host (/proc, KSM, PSI), turns counters
// into rates, keeps the newest values for live views and /metrics, and appends them to the
// metrics history, whose rollups it runs once a minute.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/periodic_worker.h"
#include "common/process_probe.h"
#include "common/procfs.h"
#include "engine/vm_counters.h"
#include "model/live_snapshot.h"
#include "services/lifecycle/vm_service.h"
#include "services/network/network_service.h"
#include "store/metrics_store.h"

namespace paddock {

inline constexpr std::chrono::milliseconds kDefaultSampleInterval{10000};
inline constexpr std::chrono::milliseconds kMinSampleInterval{1000};
// Memory figures (balloon, guest statistics, RSS, KSM) move slowly and cost two QMP queries and
// two /proc reads each, so a shorter interval samples them only this often.
inline constexpr std::chrono::milliseconds kMemorySampleInterval{5000};

class Collector {
 public:
  Collector(VmService& vms, NetworkService& networks, MetricsStore& store,
            std::chrono::milliseconds interval);
  ~Collector();

  void start();
  void stop();
  // One round: samples, remembers and stores; the collector thread calls it every interval.
  void sampleOnce();
  std::chrono::milliseconds interval() const { return interval_; }
  // How often memory figures are sampled: the interval, but at least kMemorySampleInterval.
  std::chrono::milliseconds memoryInterval() const { return memoryInterval_; }

  // The newest values (an empty snapshot before the first round); shared, never changed.
  std::shared_ptr<const LiveSnapshot> live();
  // The same as JSON (LiveSnapshot::toJson) and as Prometheus text (LiveSnapshot::exposition).
  nlohmann::json latest() { return live()->toJson(); }
  std::string exposition() { return live()->exposition(); }
  // Paddock's own cost: CPU time the collector thread spent sampling, in ns.
  std::uint64_t ownCpuNs() const { return ownCpuNs_; }

 private:
  // What the previous round saw of one VM, to turn counters into rates.
  struct Counters {
    std::int64_t tsMs = 0;
    std::uint64_t cpuNs = 0;
    std::uint64_t waitNs = 0;
    std::vector<std::uint64_t> vcpuNs;  // by vCPU index
    std::map<std::string, DiskCounters> disks;
    std::map<std::string, nlohmann::json> nics;  // by MAC: nicStats entries
  };
  // One VM's process as the collector follows it across rounds.
  struct Tracked {
    std::weak_ptr<VmProcess> process;     // a new process (restart) starts afresh
    std::unique_ptr<ProcessProbe> probe;  // its CPU clock and vCPU schedstat files
    Counters previous;
    bool havePrevious = false;
    std::int64_t memoryTsMs = 0;      // when the memory figures were last sampled
    std::vector<LiveReading> memory;  // those figures, shown until the next
  };

  // One running VM in a round: its queries are sent to every VM first, then answered.
  struct Asked {
    const VmRecord* vm = nullptr;
    Tracked* tracked = nullptr;
    LiveVm* live = nullptr;
    Deferred<std::vector<DiskCounters>> disks;
    Deferred<MemoryCounters> memory;  // empty when the memory figures are not due
  };

  // The VM's tracking state for `process` (new for a new process); null when its vCPU threads
  // cannot be had.
  Tracked* track(const std::string& name, const std::shared_ptr<VmProcess>& process);
  void sampleVm(Asked& asked, std::int64_t nowMs);
  void sampleMemory(const VmRecord& vm, pid_t pid, MemoryCounters* counters, Tracked& t,
                    std::int64_t nowMs);
  void sampleHost(int running, std::vector<LiveReading>& live);

  VmService& vms_;
  NetworkService& networks_;
  MetricsStore& store_;
  std::chrono::milliseconds interval_;
  ProcReader proc_;
  std::chrono::milliseconds memoryInterval_;
  std::map<std::string, Tracked> tracked_;  // by VM name; only the collector thread uses it
  ProcReader::CpuTimes previousHost_;
  std::int64_t lastMaintainMs_ = 0;

  std::mutex liveMutex_;
  std::shared_ptr<const LiveSnapshot> live_ = std::make_shared<LiveSnapshot>();

  std::uint64_t ownCpuNs_ = 0;
  PeriodicWorker worker_;  // last: stopped before anything it uses goes away
};

}  // namespace paddock
