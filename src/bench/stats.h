// The statistics of the repeated-research benchmark suite: every workload runs N trials per
// target, and the report gives mean, sample standard deviation, median, min and max, and the
// fraction of native performance a target keeps ("Xen and the Art of Repeated Research").
#pragma once

#include <cstddef>
#include <span>

#include "common/result.h"

namespace paddock::bench {

struct Summary {
  std::size_t n = 0;
  double mean = 0;
  double stddev = 0;  // sample standard deviation (n - 1); 0 for a single sample
  double median = 0;
  double min = 0;
  double max = 0;
};

// invalid_argument for no samples or a sample that is not a finite number (a failed run must
// be reported as failed, never folded in as a value).
Result<Summary> summarize(std::span<const double> samples);

// Whether a workload's figure is a rate (requests/s, MB/s: higher is better) or a time (s, µs:
// lower is better).
enum class Better { higher, lower };

struct Ratio {
  double value = 0;   // 1.0: as fast as the baseline; 0.5: half its performance
  double stddev = 0;  // first-order propagation of both sides' relative deviations
};

// The fraction of the baseline's performance the target keeps: target/baseline means for rates,
// baseline/target for times. invalid_argument when a mean is not positive.
Result<Ratio> performanceRatio(const Summary& target, const Summary& baseline, Better better);

}  // namespace paddock::bench
