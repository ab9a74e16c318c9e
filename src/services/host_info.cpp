#include "services/host_info.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace paddock {

HostLimits readHostLimits() {
  HostLimits h;
  cpu_set_t set;
  CPU_ZERO(&set);
  h.cpus = sched_getaffinity(0, sizeof set, &set) == 0
               ? CPU_COUNT(&set)
               : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream mem("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (mem >> key >> kib >> unit) {
    if (key == "MemTotal:") {
      h.memoryMib = kib / 1024;
      break;
    }
  }
  return h;
}

std::string cpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) break;
    auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "";
}

uint64_t memAvailableMib() {
  std::ifstream mem("/proc/meminfo");
  std::string key, unit;
  uint64_t kib = 0;
  while (mem >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib / 1024;
  return 0;
}

nlohmann::json HostInfoService::info() {
  HostLimits h = readHostLimits();
  utsname u{};
  uname(&u);
  char hostname[256] = {};
  gethostname(hostname, sizeof hostname - 1);
  AccelChoice accel = accel_.hostChoice();
  int runningVms = 0, runningVcpus = 0;
  uint64_t runningMib = 0;
  if (auto all = vms_.list())
    for (const auto& vm : *all) {
      if (!hasProcess(vm.runtime.state)) continue;
      ++runningVms;
      runningVcpus += vm.spec.vcpus;
      runningMib += vm.spec.memoryMib;
    }
  return {{"hostname", hostname},
          {"kernel", u.release},
          {"cpus", h.cpus},
          {"cpu_model", cpuModel()},
          {"memory_mib", h.memoryMib},
          {"memory_available_mib", memAvailableMib()},
          {"running_vms", runningVms},
          {"running_vcpus", runningVcpus},
          {"running_memory_mib", runningMib},
          {"qemu", engine_.version()},
          {"kvm_device", access("/dev/kvm", R_OK | W_OK) == 0},
          {"accelerator", accel.accel},
          {"accelerator_reason", accel.reason},
          {"state_dir", stateDir_},
          {"shared_storages", vms_.config().sharedStorages},
          {"paddock_version", PADDOCK_VERSION}};
}

}  // namespace paddock
