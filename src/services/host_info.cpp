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

nlohmann::json HostInfoService::info() {
  HostLimits h = readHostLimits();
  utsname u{};
  uname(&u);
  char hostname[256] = {};
  gethostname(hostname, sizeof hostname - 1);
  AccelChoice accel = accel_.hostChoice();
  return {{"hostname", hostname},
          {"kernel", u.release},
          {"cpus", h.cpus},
          {"memory_mib", h.memoryMib},
          {"qemu", engine_.version()},
          {"kvm_device", access("/dev/kvm", R_OK | W_OK) == 0},
          {"accelerator", accel.accel},
          {"accelerator_reason", accel.reason},
          {"state_dir", stateDir_},
          {"paddock_version", PADDOCK_VERSION}};
}

}  // namespace paddock
