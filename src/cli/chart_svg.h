// Time-series charts as standalone SVG for `paddock vm chart`: a pure function of its input, so the
// same samples always give the same bytes and the rendering can be tested without a browser.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace paddock::cli {

struct ChartPoint {
  int64_t tsMs = 0;  // Unix epoch milliseconds; ticks are labelled in UTC
  double value = 0;
};

struct ChartSeries {
  std::string label;  // "vcpu0", "read": shown in the legend
  std::vector<ChartPoint> points;
};

// [startMs, endMs] in Unix epoch milliseconds.
struct TimeWindow {
  int64_t startMs = 0;
  int64_t endMs = 0;
};

// Smaller sizes are raised to these, below which the labels would not fit.
inline constexpr int kMinChartWidth = 200;
inline constexpr int kMinChartHeight = 150;

struct ChartOptions {
  std::string title;  // "web1 — cpu_percent (last 1 h)"
  // Suffix of y tick labels. "bytes" gets binary prefixes ("256 MiB"), "%", "ms" and "s" none,
  // anything else decimal ones ("1.5 MB/s").
  std::string unit;
  int width = 800;
  int height = 300;
  // Top of the y axis when the data stays below it (100 for one CPU's percent); without it, or
  // when the data goes above it, the top is the data maximum rounded up to a nice step.
  std::optional<double> yMax;
  // The time the x axis spans: [now - since, now] for `--since`, so that five minutes of data in
  // a one-hour chart sit in its last twelfth instead of stretching across it. Points outside it
  // widen the axis rather than vanish. Without it, or when it is empty, the axis spans the data.
  std::optional<TimeWindow> window;
};

// Points need not be sorted. NaN and infinite values are left out; a jump of more than three
// times a series' median sample spacing breaks its line. Never fails: without any drawable point
// the chart says "no data".
std::string renderSvgChart(const std::vector<ChartSeries>& series, const ChartOptions& options);

}  // namespace paddock::cli
