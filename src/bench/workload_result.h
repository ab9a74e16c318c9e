// What a workload prints (guest/debian/workloads/xen-2004.sh, micro.c), one line per figure:
//   RESULT <metric> <value> <unit> <higher|lower>
// and what one run of a workload on one target gave: its figures, or why it failed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bench/stats.h"
#include "common/result.h"

namespace paddock::bench {

struct Sample {
  std::string metric;  // e.g. "osdb_ir_tps"
  double value = 0;
  std::string unit;  // e.g. "tps", "s", "us"
  Better better = Better::higher;
};

// The RESULT lines in `output` (other lines, a console's echo and "\r" are ignored). An error
// when there is none, or when one is malformed or its value is not a positive finite number (a
// share, unit "%", may be 0-100): a failure must never become a sample.
Result<std::vector<Sample>> parseResults(std::string_view output);

struct RunRecord {
  std::string target;    // "native", "paddock", "qemu-peer"
  std::string workload;  // "cpu", ...
  int trial = 0;         // 0-based
  bool ok = false;
  std::string error;  // when !ok
  std::vector<Sample> samples;
  double seconds = 0;  // wall time of the run, as the harness saw it
};

}  // namespace paddock::bench
