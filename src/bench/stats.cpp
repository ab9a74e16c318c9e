#include "bench/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <fmt/format.h>

namespace paddock::bench {

Result<Summary> summarize(std::span<const double> samples) {
  if (samples.empty()) return makeError(Errc::invalid_argument, "no samples to summarize");
  for (std::size_t i = 0; i < samples.size(); ++i)
    if (!std::isfinite(samples[i]))
      return makeError(Errc::invalid_argument, fmt::format("sample {} is not a number", i));
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  Summary s;
  s.n = sorted.size();
  s.min = sorted.front();
  s.max = sorted.back();
  s.median = s.n % 2 ? sorted[s.n / 2] : (sorted[s.n / 2 - 1] + sorted[s.n / 2]) / 2;
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(s.n);
  if (s.n > 1) {
    double squares = 0;
    for (double v : sorted) squares += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(s.n - 1));
  }
  return s;
}

Result<Ratio> performanceRatio(const Summary& target, const Summary& baseline, Better better) {
  if (target.mean <= 0 || baseline.mean <= 0)
    return makeError(Errc::invalid_argument, "a ratio needs positive means on both sides");
  Ratio r;
  r.value = better == Better::higher ? target.mean / baseline.mean : baseline.mean / target.mean;
  double relTarget = target.stddev / target.mean;
  double relBaseline = baseline.stddev / baseline.mean;
  r.stddev = r.value * std::sqrt(relTarget * relTarget + relBaseline * relBaseline);
  return r;
}

}  // namespace paddock::bench
