// The overcommit manager (ESX's balloon-driven reclamation, z/VM's working-set trimming): as often
// as the collector samples memory it compares the host's available memory with its watermarks and
// inflates or deflates VM balloons as balloon_plan.h decides, never below a VM's reservation, and
// publishes every decision as a "vm.balloon" event. Its settings are kept in the store.
//
// It works on top of the owners' balloon targets (resources.balloon_mib): it only ever takes
// memory below them and gives it back up to them. Locked-memory and paused VMs are left alone.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/periodic_worker.h"
#include "services/event_bus.h"
#include "services/lifecycle/vm_service.h"
#include "services/monitoring/collector.h"
#include "services/resources/balloon_plan.h"
#include "store/store.h"

namespace paddock {

class OvercommitManager {
 public:
  OvercommitManager(VmService& vms, Collector& collector, Store& store, EventBus& events,
                    std::uint64_t hostMemoryMib);
  ~OvercommitManager();

  // Default watermarks: low = 5 % of the host's memory (at least 256M), high = twice that.
  static OvercommitPolicy defaultPolicy(std::uint64_t hostMemoryMib);

  void start();
  void stop();
  // Daemon start: applies the stored settings, if the operator ever changed them.
  void restore();
  // One round; the manager's thread calls it as often as the collector samples memory.
  void runOnce();

  // {"enabled", "low_mib", "high_mib", "host_available_mib", "vms": {name: {"target_mib",
  //  "owner_mib", "reclaimed_mib"}}}
  nlohmann::json status();
  // {"enabled"?, "low_mib"?, "high_mib"?}: high defaults to twice a low given without it. Bad
  // values and unknown fields are invalid_argument naming the field, and change nothing.
  Result<nlohmann::json> configure(const nlohmann::json& request);

 private:
  struct Taken {
    std::uint64_t targetMib = 0;
    pid_t pid = 0;          // the QEMU the target was set on: a restarted VM starts whole again
    std::int64_t atMs = 0;  // when it was set
  };

  VmService& vms_;
  Collector& collector_;
  Store& store_;
  EventBus& events_;

  std::mutex mutex_;  // guards policy_ and taken_; never held across a QMP call
  OvercommitPolicy policy_;
  std::map<std::string, Taken> taken_;  // VMs the manager took memory from
  std::uint64_t lastAvailableMib_ = 0;

  std::mutex runMutex_;    // one round at a time
  PeriodicWorker worker_;  // last: stopped before anything it uses goes away
};

}  // namespace paddock
