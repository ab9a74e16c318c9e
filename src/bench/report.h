// The suite's report from its raw runs: per metric and target the summary of the trials, the
// fraction of native performance kept (with σ), Paddock against the hand-started QEMU, and
// failures counted as failures. Rendered as a Markdown table, CSV and an SVG bar chart of the
// ratios to native (the paper's Figure 1).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/stats.h"
#include "bench/workload_result.h"

namespace paddock::bench {

struct TargetCell {
  std::string target;
  std::optional<Summary> summary;  // none when every run failed
  int runs = 0;
  int failed = 0;
  std::optional<Ratio> vsNative;  // for targets other than native, when both have samples
};

struct MetricRow {
  std::string workload;
  std::string metric;  // the workload's name in brackets when no run of it gave any figure
  std::string unit;
  Better better = Better::higher;
  std::vector<TargetCell> cells;       // in the order of the targets
  std::optional<Ratio> paddockVsPeer;  // when both paddock and qemu-peer have samples
};

// Metrics in the order the workloads first appear in `runs`.
std::vector<MetricRow> summarizeRuns(const std::vector<RunRecord>& runs,
                                     const std::vector<std::string>& targets);

std::string markdownReport(const std::vector<MetricRow>& rows,
                           const std::vector<std::string>& targets, const nlohmann::json& env);
std::string csvReport(const std::vector<MetricRow>& rows);
// Grouped bars: per metric, each target's fraction of native (native itself is 1.0), with σ.
std::string svgRatioChart(const std::vector<MetricRow>& rows,
                          const std::vector<std::string>& targets, const std::string& title);

nlohmann::json toJson(const RunRecord& r);
Result<RunRecord> runRecordFromJson(const nlohmann::json& j);

}  // namespace paddock::bench
