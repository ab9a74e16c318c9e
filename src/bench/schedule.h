// The order a suite runs in: trial by trial, every workload on every target back to back, with
// the targets' order rotated so that none always goes first (a warm cache or a quiet minute then
// favours each in turn), as the repeated-research study asks.
#pragma once

#include <string>
#include <vector>

namespace paddock::bench {

struct ScheduledRun {
  int trial = 0;
  std::string workload;
  std::string target;
};

std::vector<ScheduledRun> interleave(int trials, const std::vector<std::string>& workloads,
                                     const std::vector<std::string>& targets);

}  // namespace paddock::bench
