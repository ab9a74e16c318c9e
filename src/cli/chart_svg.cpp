#include "cli/chart_svg.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <string_view>

#include <fmt/format.h>

namespace paddock::cli {
namespace {

// Okabe–Ito, with grey instead of yellow (unreadable on white). Past eight series the colours
// repeat with a dash pattern so that lines stay distinguishable.
constexpr std::array<const char*, 8> kPalette = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                                 "#56B4E9", "#CC79A7", "#000000", "#999999"};
constexpr std::array<const char*, 3> kDashes = {"", "6 3", "2 3"};

// Layout needs text widths before a renderer measures anything: this is a generous average
// advance of 12 px sans-serif, so labels get room rather than overlap.
constexpr double kCharWidth = 7.0;
constexpr double kTitleHeight = 30;
constexpr double kLegendRowHeight = 18;
constexpr double kXAxisHeight = 30;
constexpr double kRightMargin = 20;
constexpr double kMinTickSpacing = 64;  // pixels between time ticks, room for "HH:MM"
constexpr int kMaxYIntervals = 6;

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;

using Segment = std::vector<ChartPoint>;

struct Box {
  double left = 0, right = 0, top = 0, bottom = 0;
};

// Length of the UTF-8 sequence at text[i] when it is well-formed and a character XML 1.0 allows,
// else 0.
size_t xmlCharLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
  size_t len = 0;
  uint32_t cp = 0, least = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1Fu, least = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0Fu, least = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07u, least = 0x10000;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  bool allowed = cp >= least && cp <= 0x10FFFF && !surrogate && cp != 0xFFFE && cp != 0xFFFF;
  return allowed ? len : 0;
}

// Titles and labels hold user-chosen names: besides markup, bytes that are not valid UTF-8 or not
// XML characters become U+FFFD so that the document stays well-formed whatever they contain.
std::string xmlEscape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    size_t len = xmlCharLength(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
      continue;
    }
    switch (text[i]) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.append(text.substr(i, len));
    }
    i += len;
  }
  return out;
}

double textWidth(std::string_view text) {
  auto chars = std::count_if(text.begin(), text.end(),
                             [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
  return static_cast<double>(chars) * kCharWidth;
}

// --- Values and the y axis ---

enum class Prefixes { none, decimal, binary };

Prefixes prefixesFor(const std::string& unit) {
  if (unit == "bytes") return Prefixes::binary;
  if (unit == "%" || unit == "ms" || unit == "s") return Prefixes::none;
  return Prefixes::decimal;
}

// Fewest decimals (at most 3) that show `v` exactly, so ticks read "1.25 MB/s" and "20%".
std::string formatNumber(double v) {
  int decimals = 0;
  while (decimals < 3) {
    double scaled = v * std::pow(10.0, decimals);
    if (std::abs(scaled - std::round(scaled)) < 1e-6) break;
    ++decimals;
  }
  return fmt::format("{:.{}f}", v, decimals);
}

std::string formatValue(double v, const std::string& unit) {
  Prefixes prefixes = prefixesFor(unit);
  if (prefixes == Prefixes::none) return formatNumber(v) + (unit == "%" ? "" : " ") + unit;
  static constexpr std::array<const char*, 6> kBinary = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  static constexpr std::array<const char*, 6> kDecimal = {"", "k", "M", "G", "T", "P"};
  double base = prefixes == Prefixes::binary ? 1024 : 1000;
  size_t power = 0;
  while (power + 1 < kBinary.size() && std::abs(v) >= base) {
    v /= base;
    ++power;
  }
  if (prefixes == Prefixes::binary) return fmt::format("{} {}", formatNumber(v), kBinary[power]);
  if (unit.empty()) return formatNumber(v) + kDecimal[power];
  return fmt::format("{} {}{}", formatNumber(v), kDecimal[power], unit);
}

struct YAxis {
  double step = 1;
  int intervals = 1;
  double top() const { return step * intervals; }
};

int intervalsFor(double maxValue, double step) {
  return static_cast<int>(std::ceil(maxValue / step - 1e-9));
}

// The smallest step giving at most six intervals: 1/2/2.5/5 × 10^n, or powers of two for bytes
// so that ticks land on 256 MiB rather than 200 MiB. Both give four to six intervals.
YAxis niceYAxis(double maxValue, Prefixes prefixes) {
  if (!(maxValue > 0)) maxValue = 1;
  if (prefixes == Prefixes::binary) {
    double step = 1;
    while (intervalsFor(maxValue, step) > kMaxYIntervals) step *= 2;
    return {step, std::max(1, intervalsFor(maxValue, step))};
  }
  double base = std::pow(10.0, std::floor(std::log10(maxValue / kMaxYIntervals)));
  for (double multiple : {1.0, 2.0, 2.5, 5.0}) {
    int intervals = intervalsFor(maxValue, multiple * base);
    if (intervals <= kMaxYIntervals) return {multiple * base, std::max(1, intervals)};
  }
  return {10 * base, std::max(1, intervalsFor(maxValue, 10 * base))};
}

// --- Time and the x axis ---

// Aligned to the epoch, so ticks fall on whole minutes, quarter hours and UTC midnights.
int64_t timeTickInterval(int64_t spanMs, int maxTicks) {
  static constexpr std::array<int64_t, 9> kIntervals = {
      kMinuteMs,   5 * kMinuteMs, 15 * kMinuteMs, 30 * kMinuteMs, kHourMs,
      3 * kHourMs, 6 * kHourMs,   12 * kHourMs,   kDayMs};
  for (int64_t interval : kIntervals)
    if (spanMs / interval + 1 <= maxTicks) return interval;
  int64_t days = spanMs / kDayMs + 1;
  return kDayMs * ((days + maxTicks - 1) / maxTicks);
}

int64_t ceilToMultiple(int64_t v, int64_t m) {
  int64_t q = v / m;
  if (q * m < v) ++q;
  return q * m;
}

// "HH:MM" in UTC; "MM-DD" when ticks are whole days apart and every time would read 00:00.
std::string timeLabel(int64_t tsMs, bool dates) {
  using namespace std::chrono;
  sys_time<milliseconds> t{milliseconds{tsMs}};
  auto day = floor<days>(t);
  if (dates) {
    year_month_day ymd{day};
    return fmt::format("{:02}-{:02}", static_cast<unsigned>(ymd.month()),
                       static_cast<unsigned>(ymd.day()));
  }
  hh_mm_ss tod{floor<minutes>(t - day)};
  return fmt::format("{:02}:{:02}", tod.hours().count(), tod.minutes().count());
}

// --- Series ---

// The finite points in time order, split wherever the spacing jumps past three times the median:
// a VM that was stopped for an hour should show a hole, not a straight line across it.
std::vector<Segment> segmentsOf(const ChartSeries& series) {
  Segment points;
  std::copy_if(series.points.begin(), series.points.end(), std::back_inserter(points),
               [](const ChartPoint& p) { return std::isfinite(p.value); });
  std::stable_sort(points.begin(), points.end(),
                   [](const ChartPoint& a, const ChartPoint& b) { return a.tsMs < b.tsMs; });
  if (points.empty()) return {};
  std::vector<int64_t> spacings;
  for (size_t i = 1; i < points.size(); ++i)
    if (points[i].tsMs > points[i - 1].tsMs)
      spacings.push_back(points[i].tsMs - points[i - 1].tsMs);
  int64_t maxSpacing = std::numeric_limits<int64_t>::max();
  if (!spacings.empty()) {
    auto middle = spacings.begin() + static_cast<std::ptrdiff_t>(spacings.size() / 2);
    std::nth_element(spacings.begin(), middle, spacings.end());
    maxSpacing = 3 * *middle;
  }
  std::vector<Segment> segments(1);
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0 && points[i].tsMs - points[i - 1].tsMs > maxSpacing) segments.emplace_back();
    segments.back().push_back(points[i]);
  }
  return segments;
}

struct Extent {
  int64_t minTs = std::numeric_limits<int64_t>::max();
  int64_t maxTs = std::numeric_limits<int64_t>::min();
  double maxValue = 0;
  bool empty() const { return minTs > maxTs; }
};

Extent extentOf(const std::vector<std::vector<Segment>>& all) {
  Extent e;
  for (const auto& segments : all)
    for (const auto& segment : segments)
      for (const auto& p : segment) {
        e.minTs = std::min(e.minTs, p.tsMs);
        e.maxTs = std::max(e.maxTs, p.tsMs);
        e.maxValue = std::max(e.maxValue, p.value);
      }
  return e;
}

// --- Drawing ---

std::string strokeStyle(size_t index) {
  std::string style = fmt::format(R"(stroke="{}")", kPalette[index % kPalette.size()]);
  const char* dash = kDashes[(index / kPalette.size()) % kDashes.size()];
  if (*dash) style += fmt::format(R"( stroke-dasharray="{}")", dash);
  return style;
}

struct LegendEntry {
  double x = 0, y = 0;
};

// Entries flow left to right under the title and wrap onto further rows.
std::vector<LegendEntry> layoutLegend(const std::vector<ChartSeries>& series, double left,
                                      double right, double top) {
  std::vector<LegendEntry> entries;
  double x = left, y = top + kLegendRowHeight / 2;
  for (const auto& s : series) {
    double width = 20 + textWidth(s.label) + 16;
    if (x > left && x + width > right) x = left, y += kLegendRowHeight;
    entries.push_back({x, y});
    x += width;
  }
  return entries;
}

void drawLegend(std::string& svg, const std::vector<ChartSeries>& series,
                const std::vector<LegendEntry>& entries) {
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& e = entries[i];
    svg +=
        fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" {} stroke-width="3"/>)"
                    "\n",
                    e.x, e.y, e.x + 16, e.y, strokeStyle(i));
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}">{}</text>)"
                       "\n",
                       e.x + 20, e.y + 4, xmlEscape(series[i].label));
  }
}

void drawYAxis(std::string& svg, const Box& plot, const YAxis& axis,
               const std::vector<std::string>& labels) {
  for (int i = 0; i <= axis.intervals; ++i) {
    double y = plot.bottom - (plot.bottom - plot.top) * i / axis.intervals;
    if (i > 0)
      svg +=
          fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#e0e0e0"/>)"
                      "\n",
                      plot.left, y, plot.right, y);
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end">{}</text>)"
                       "\n",
                       plot.left - 6, y + 4, xmlEscape(labels[static_cast<size_t>(i)]));
  }
}

void drawXAxis(std::string& svg, const Box& plot, int64_t minTs, int64_t maxTs) {
  int maxTicks = std::max(2, static_cast<int>((plot.right - plot.left) / kMinTickSpacing));
  int64_t interval = timeTickInterval(maxTs - minTs, maxTicks);
  double labelY = plot.bottom + 18;
  for (int64_t t = ceilToMultiple(minTs, interval); t <= maxTs; t += interval) {
    double x = plot.left + (plot.right - plot.left) * static_cast<double>(t - minTs) /
                               static_cast<double>(maxTs - minTs);
    svg += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#666666"/>)"
                       "\n",
                       x, plot.bottom, x, plot.bottom + 4);
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle">{}</text>)"
                       "\n",
                       x, labelY, timeLabel(t, interval >= kDayMs));
  }
  // In the corner, clear of a tick label that may sit centred on the y axis.
  svg += fmt::format(R"(<text x="4" y="{:.1f}" font-size="10" fill="#666666">UTC</text>)"
                     "\n",
                     labelY);
}

void drawSeries(std::string& svg, const std::vector<Segment>& segments, size_t index,
                const Box& plot, const Extent& extent, double top) {
  auto xOf = [&](int64_t ts) {
    return plot.left + (plot.right - plot.left) * static_cast<double>(ts - extent.minTs) /
                           static_cast<double>(extent.maxTs - extent.minTs);
  };
  auto yOf = [&](double v) {
    return plot.bottom - (plot.bottom - plot.top) * std::clamp(v, 0.0, top) / top;
  };
  for (const auto& segment : segments) {
    std::string points;
    for (const auto& p : segment)
      points +=
          fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", xOf(p.tsMs), yOf(p.value));
    // A lone sample is drawn as a zero-length line, which the round cap turns into a dot.
    if (segment.size() == 1) points += " " + points;
    svg += fmt::format(
        R"(<polyline points="{}" fill="none" {} stroke-width="1.5" stroke-linejoin="round" )"
        R"(stroke-linecap="round"/>)"
        "\n",
        points, strokeStyle(index));
  }
}

}  // namespace

std::string renderSvgChart(const std::vector<ChartSeries>& series, const ChartOptions& options) {
  int width = std::max(options.width, kMinChartWidth);
  int height = std::max(options.height, kMinChartHeight);
  std::vector<std::vector<Segment>> segments;
  for (const auto& s : series) segments.push_back(segmentsOf(s));
  Extent extent = extentOf(segments);
  if (!extent.empty() && options.window && options.window->endMs > options.window->startMs) {
    extent.minTs = std::min(extent.minTs, options.window->startMs);
    extent.maxTs = std::max(extent.maxTs, options.window->endMs);
  }
  // One sample, or several at one instant, still gets a minute of axis to sit in.
  if (!extent.empty() && extent.minTs == extent.maxTs)
    extent.minTs -= kMinuteMs / 2, extent.maxTs += kMinuteMs / 2;

  YAxis yAxis =
      niceYAxis(std::max(extent.maxValue, options.yMax.value_or(0)), prefixesFor(options.unit));
  std::vector<std::string> yLabels;
  double yLabelWidth = 0;
  for (int i = 0; i <= yAxis.intervals; ++i) {
    yLabels.push_back(formatValue(yAxis.step * i, options.unit));
    yLabelWidth = std::max(yLabelWidth, textWidth(yLabels.back()));
  }

  Box plot;
  plot.left = std::max(44.0, yLabelWidth + 14);
  plot.right = width - kRightMargin;
  auto legend = layoutLegend(series, plot.left, plot.right, kTitleHeight);
  plot.top = (legend.empty() ? kTitleHeight : legend.back().y + kLegendRowHeight / 2) + 10;
  plot.bottom = std::max(plot.top + 20, height - kXAxisHeight);

  std::string svg = fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      R"(<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{0}" height="{1}" )"
      R"(viewBox="0 0 {0} {1}" font-family="sans-serif" font-size="12" fill="#333333">)"
      "\n",
      width, height);
  std::string title = xmlEscape(options.title);
  svg += fmt::format("<title>{}</title>\n", title);
  svg += R"(<rect x="0" y="0" width="100%" height="100%" fill="#ffffff"/>)"
         "\n";
  svg += fmt::format(
      R"(<text x="{:.1f}" y="20" text-anchor="middle" font-size="14" font-weight="bold">{}</text>)"
      "\n",
      width / 2.0, title);
  drawLegend(svg, series, legend);
  if (extent.empty()) {
    svg += fmt::format(
        R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#cccccc"/>)"
        "\n",
        plot.left, plot.top, plot.right - plot.left, plot.bottom - plot.top);
    svg += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" )"
                       R"(font-size="16" fill="#666666">no data</text>)"
                       "\n",
                       (plot.left + plot.right) / 2, (plot.top + plot.bottom) / 2 + 5);
    return svg + "</svg>\n";
  }
  drawYAxis(svg, plot, yAxis, yLabels);
  drawXAxis(svg, plot, extent.minTs, extent.maxTs);
  svg +=
      fmt::format(R"(<path d="M{0:.1f},{1:.1f} V{2:.1f} H{3:.1f}" fill="none" stroke="#666666"/>)"
                  "\n",
                  plot.left, plot.top, plot.bottom, plot.right);
  for (size_t i = 0; i < series.size(); ++i)
    drawSeries(svg, segments[i], i, plot, extent, yAxis.top());
  return svg + "</svg>\n";
}

}  // namespace paddock::cli
