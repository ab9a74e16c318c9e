#include "bench/schedule.h"

namespace paddock::bench {

std::vector<ScheduledRun> interleave(int trials, const std::vector<std::string>& workloads,
                                     const std::vector<std::string>& targets) {
  std::vector<ScheduledRun> out;
  const size_t n = targets.size();
  size_t turn = 0;
  for (int t = 0; t < trials; ++t)
    for (const auto& w : workloads) {
      for (size_t i = 0; i < n; ++i) out.push_back({t, w, targets[(turn + i) % n]});
      ++turn;
    }
  return out;
}

}  // namespace paddock::bench
