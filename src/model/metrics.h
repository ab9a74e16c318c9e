// Metrics: what the collector samples, how long the store keeps it, and the names the API,
// the CLI and /metrics use. Counters are turned into rates when sampled, so every stored value is
// a gauge and averaging it into coarser buckets (rollups) is meaningful.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace paddock {

// The points of one series. object: "vm/<name>" or "host"; labels: "" or "disk=root",
// "nic=02:50:44:..", "vcpu=0".
struct MetricSeries {
  std::string object;
  std::string name;
  std::string labels;
  std::vector<std::pair<std::int64_t, double>> points;  // (time in ms, value), oldest first
};

struct MetricInfo {
  const char* name;   // stable: part of the API and of /metrics (as paddock_<name>)
  const char* unit;   // "percent", "bytes", "bytes_per_second", "per_second", "ms", "pages"
  const char* label;  // the label key its series carry ("disk", "nic", "vcpu"), or ""
  bool host;          // a host metric (object "host"), else a VM metric
  const char* help;
};
const std::vector<MetricInfo>& metricCatalog();
const MetricInfo* findMetric(std::string_view name);
// Checks a metric name; the error lists the known ones and names `field`.
Status validateMetricName(const std::string& name, bool host, const std::string& field);

// The resolutions the store keeps, vCenter style: each level averages the one before it.
struct Resolution {
  std::int64_t stepMs;  // 0: raw, one point per sample
  std::int64_t keepMs;  // points older than this are dropped
};
inline constexpr Resolution kResolutions[] = {
    {0, 3600 * 1000LL},                      // raw for 1 hour
    {300 * 1000LL, 86400 * 1000LL},          // 5-minute averages for 1 day
    {3600 * 1000LL, 30 * 86400 * 1000LL},    // 1-hour averages for 30 days
    {86400 * 1000LL, 365 * 86400 * 1000LL},  // 1-day averages for 1 year
};
// The finest resolution that still holds points `sinceMs` back.
std::int64_t resolutionFor(std::int64_t spanMs);

// "90s", "30m", "1h", "7d" (also "1h30m") → milliseconds; invalid_argument naming `field`.
Result<std::int64_t> parseDuration(const std::string& text, const std::string& field);

}  // namespace paddock
