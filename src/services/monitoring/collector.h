// The agentless collector: every interval it samples each running VM (QEMU's threads in /proc,
// QMP for disks and the balloon, the TAPs for NICs) and the host (/proc, KSM, PSI), turns counters
// into rates, keeps the newest values for live views and /metrics, and appends them to the
// metrics history, whose rollups it runs once a minute.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/procfs.h"
#include "engine/vm_counters.h"
#include "services/lifecycle/vm_service.h"
#include "services/network/network_service.h"
#include "store/metrics_store.h"

namespace paddock {

inline constexpr std::chrono::milliseconds kDefaultSampleInterval{10000};
inline constexpr std::chrono::milliseconds kMinSampleInterval{1000};

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

  // The newest values: {"ts_ms", "interval_ms", "host": {metric: value},
  //  "vms": {name: {"state", metric: value, labelled metric: {label value: value}}}}.
  nlohmann::json latest();
  // The newest values in the Prometheus text exposition format (version 0.0.4): VM metrics as
  // paddock_vm_<name>{vm="..."[,disk|nic|vcpu="..."]}, host metrics as paddock_<name>.
  std::string exposition();
  // Paddock's own cost: CPU time the collector thread spent sampling, in ns.
  std::uint64_t ownCpuNs() const { return ownCpuNs_; }

 private:
  // What the previous round saw of one VM, to turn counters into rates.
  struct Previous {
    pid_t pid = 0;
    std::int64_t tsMs = 0;
    std::uint64_t cpuNs = 0;
    std::uint64_t waitNs = 0;
    std::map<std::int64_t, std::uint64_t> vcpuNs;  // by thread id
    std::map<std::string, DiskCounters> disks;
    std::map<std::string, nlohmann::json> nics;  // by MAC: nicStats entries
  };

  void sampleVm(const VmRecord& vm, std::int64_t nowMs, std::vector<MetricPoint>& out,
                nlohmann::json& latest);
  void sampleHost(std::int64_t nowMs, int running, std::vector<MetricPoint>& out,
                  nlohmann::json& latest);
  void run();

  VmService& vms_;
  NetworkService& networks_;
  MetricsStore& store_;
  std::chrono::milliseconds interval_;
  ProcReader proc_;
  std::map<std::string, Previous> previous_;  // by VM name; only the collector thread uses it
  ProcReader::CpuTimes previousHost_;
  std::int64_t lastMaintainMs_ = 0;

  std::mutex latestMutex_;
  nlohmann::json latest_ = nlohmann::json::object();

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
  std::uint64_t ownCpuNs_ = 0;
};

}  // namespace paddock
