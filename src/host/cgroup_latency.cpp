// setThreadLatencyHigh (declared in cgroups.h): a short EEVDF slice request through
// sched_setattr, which glibc does not wrap.
#include <errno.h>
#include <linux/sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include <fmt/format.h>

#include "host/cgroups.h"

namespace paddock::host {

namespace {

// struct sched_attr as first published (SCHED_ATTR_SIZE_VER0): enough for policy, nice and
// runtime, and it leaves the utilisation clamps of later versions alone.
struct SchedAttr {
  uint32_t size;
  uint32_t sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime;
  uint64_t sched_deadline;
  uint64_t sched_period;
};
static_assert(sizeof(SchedAttr) == 48);

constexpr uint64_t kLatencySliceNs = 1000000;

}  // namespace

Status setThreadLatencyHigh(pid_t tid, bool high) {
  if (tid <= 0)
    return makeError(Errc::invalid_argument, fmt::format("invalid thread id {}", tid), "tid");
  SchedAttr attr{};
  if (syscall(SYS_sched_getattr, tid, &attr, sizeof attr, 0) != 0) {
    int e = errno;
    return makeError(e == ESRCH ? Errc::not_found : Errc::internal,
                     fmt::format("cannot read the scheduling of thread {}: {}", tid, strerror(e)),
                     "tid");
  }
  if (attr.sched_policy != SCHED_NORMAL && attr.sched_policy != SCHED_BATCH)
    return makeError(Errc::conflict,
                     fmt::format("thread {} does not use the fair scheduler (policy {})", tid,
                                 attr.sched_policy),
                     "tid");
  // 0 returns the thread to the default slice; the policy and nice value are written back as read.
  attr.size = sizeof attr;
  attr.sched_flags &= SCHED_FLAG_RESET_ON_FORK;
  attr.sched_runtime = high ? kLatencySliceNs : 0;
  attr.sched_deadline = 0;
  attr.sched_period = 0;
  if (syscall(SYS_sched_setattr, tid, &attr, 0) != 0) {
    int e = errno;
    return makeError(e == ESRCH   ? Errc::not_found
                     : e == EPERM ? Errc::unavailable
                                  : Errc::internal,
                     fmt::format("cannot set the scheduling of thread {}: {}", tid, strerror(e)),
                     "tid");
  }
  return {};
}

}  // namespace paddock::host
