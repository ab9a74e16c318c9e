#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

namespace paddock::bench {

namespace {

const char* betterName(Better b) {
  return b == Better::higher ? "higher" : "lower";
}

std::string fmtValue(double v) {
  double a = std::fabs(v);
  if (a >= 1000) return fmt::format("{:.0f}", v);
  if (a >= 10) return fmt::format("{:.1f}", v);
  if (a >= 1) return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

std::string xmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

const TargetCell* cellOf(const MetricRow& row, const std::string& target) {
  for (const auto& c : row.cells)
    if (c.target == target) return &c;
  return nullptr;
}

}  // namespace

std::vector<MetricRow> summarizeRuns(const std::vector<RunRecord>& runs,
                                     const std::vector<std::string>& targets) {
  // Metric names, units and directions as the workloads reported them, in first-seen order.
  std::vector<std::string> workloads;
  std::map<std::string, std::vector<Sample>> metricsOf;  // workload -> one sample per metric
  for (const auto& r : runs) {
    if (std::find(workloads.begin(), workloads.end(), r.workload) == workloads.end())
      workloads.push_back(r.workload);
    auto& known = metricsOf[r.workload];
    for (const auto& s : r.samples)
      if (std::none_of(known.begin(), known.end(),
                       [&](const Sample& k) { return k.metric == s.metric; }))
        known.push_back(s);
  }
  std::vector<MetricRow> rows;
  for (const auto& w : workloads) {
    auto metrics = metricsOf[w];
    if (metrics.empty()) metrics.push_back({"(" + w + ")", 0, "", Better::higher});
    for (const auto& m : metrics) {
      MetricRow row{w, m.metric, m.unit, m.better, {}, std::nullopt};
      for (const auto& t : targets) {
        TargetCell cell{t, std::nullopt, 0, 0, std::nullopt};
        std::vector<double> values;
        for (const auto& r : runs) {
          if (r.workload != w || r.target != t) continue;
          auto it = std::find_if(r.samples.begin(), r.samples.end(),
                                 [&](const Sample& s) { return s.metric == m.metric; });
          // A run that worked without this figure measures other sizes (web on one server
          // natively); a failed run failed for every figure of its workload.
          if (r.ok && it == r.samples.end()) continue;
          ++cell.runs;
          if (!r.ok)
            ++cell.failed;
          else
            values.push_back(it->value);
        }
        if (auto s = summarize(values)) cell.summary = *s;
        row.cells.push_back(std::move(cell));
      }
      const TargetCell* native = cellOf(row, "native");
      for (auto& c : row.cells)
        if (c.target != "native" && native && native->summary && c.summary)
          if (auto ratio = performanceRatio(*c.summary, *native->summary, row.better))
            c.vsNative = *ratio;
      const TargetCell* paddock = cellOf(row, "paddock");
      const TargetCell* peer = cellOf(row, "qemu-peer");
      if (paddock && peer && paddock->summary && peer->summary)
        if (auto ratio = performanceRatio(*paddock->summary, *peer->summary, row.better))
          row.paddockVsPeer = *ratio;
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::string markdownReport(const std::vector<MetricRow>& rows,
                           const std::vector<std::string>& targets, const nlohmann::json& env) {
  std::string out = "# xen-2004 suite results\n\n";
  for (const auto& [k, v] : env.items())
    out += fmt::format("- {}: {}\n", k, v.is_string() ? v.get<std::string>() : v.dump());
  out +=
      "\nEach cell: mean ± sample σ (median) over the trials that succeeded; a failed run is "
      "counted as failed, never as a value. \"× native\" is the fraction of native "
      "performance kept (1.00 = as fast as native), σ propagated from both sides.\n\n";
  std::string head = "| workload | metric | unit |";
  std::string rule = "|---|---|---|";
  for (const auto& t : targets) {
    head += fmt::format(" {} |", t);
    rule += "---:|";
  }
  for (const auto& t : targets)
    if (t != "native") {
      head += fmt::format(" {} × native |", t);
      rule += "---:|";
    }
  bool peer = std::count(targets.begin(), targets.end(), "paddock") &&
              std::count(targets.begin(), targets.end(), "qemu-peer");
  if (peer) {
    head += " paddock ÷ qemu-peer |";
    rule += "---:|";
  }
  out += head + "\n" + rule + "\n";
  for (const auto& r : rows) {
    std::string line = fmt::format("| {} | {} | {} ({} is better) |", r.workload, r.metric,
                                   r.unit.empty() ? "-" : r.unit, betterName(r.better));
    for (const auto& c : r.cells) {
      std::string cell;
      if (c.summary)
        cell = fmt::format("{} ± {} ({})", fmtValue(c.summary->mean), fmtValue(c.summary->stddev),
                           fmtValue(c.summary->median));
      if (c.failed)
        cell += fmt::format("{}**FAILED {} of {}**", cell.empty() ? "" : " ", c.failed, c.runs);
      if (c.runs == 0) cell = "not run";
      line += " " + cell + " |";
    }
    for (const auto& c : r.cells)
      if (c.target != "native")
        line += c.vsNative
                    ? fmt::format(" {:.3f} ± {:.3f} |", c.vsNative->value, c.vsNative->stddev)
                    : std::string(" - |");
    if (peer)
      line += r.paddockVsPeer ? fmt::format(" {:.3f} ± {:.3f} |", r.paddockVsPeer->value,
                                            r.paddockVsPeer->stddev)
                              : std::string(" - |");
    out += line + "\n";
  }
  return out;
}

std::string csvReport(const std::vector<MetricRow>& rows) {
  std::string out =
      "workload,metric,unit,better,target,runs,failed,mean,stddev,median,min,max,"
      "ratio_to_native,ratio_to_native_stddev\n";
  for (const auto& r : rows)
    for (const auto& c : r.cells) {
      std::string stats = ",,,,";
      if (c.summary)
        stats = fmt::format("{:.6g},{:.6g},{:.6g},{:.6g},{:.6g}", c.summary->mean,
                            c.summary->stddev, c.summary->median, c.summary->min, c.summary->max);
      std::string ratio = c.vsNative
                              ? fmt::format("{:.6g},{:.6g}", c.vsNative->value, c.vsNative->stddev)
                              : (c.target == "native" && c.summary ? "1,0" : ",");
      out += fmt::format("{},{},{},{},{},{},{},{},{}\n", r.workload, r.metric, r.unit,
                         betterName(r.better), c.target, c.runs, c.failed, stats, ratio);
    }
  return out;
}

std::string svgRatioChart(const std::vector<MetricRow>& rows,
                          const std::vector<std::string>& targets, const std::string& title) {
  const double barW = 14, gap = 18, left = 60, top = 40, plotH = 260, bottom = 130;
  const size_t nt = std::max<size_t>(targets.size(), 1);
  double groupW = static_cast<double>(nt) * barW + gap;
  double width = left + 20 + groupW * static_cast<double>(std::max<size_t>(rows.size(), 1));
  double height = top + plotH + bottom;
  double maxRatio = 1.1;
  for (const auto& r : rows)
    for (const auto& c : r.cells)
      if (c.vsNative) maxRatio = std::max(maxRatio, c.vsNative->value + c.vsNative->stddev);
  auto y = [&](double v) { return top + plotH - plotH * std::min(v, maxRatio) / maxRatio; };
  static const char* colours[] = {"#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"};
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" "
      "viewBox=\"0 0 {:.0f} {:.0f}\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"11\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{:.0f}\" y=\"20\" font-size=\"14\">{}</text>\n",
      width, height, width, height, left, xmlEscape(title));
  for (double tick = 0; tick <= maxRatio + 1e-9; tick += 0.25)
    s += fmt::format(
        "<line x1=\"{:.0f}\" x2=\"{:.0f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{:.0f}\" y=\"{:.1f}\" text-anchor=\"end\">{:.2f}</text>\n",
        left, width - 10, y(tick), y(tick), left - 6, y(tick) + 4, tick);
  for (size_t i = 0; i < rows.size(); ++i) {
    double x0 = left + 10 + groupW * static_cast<double>(i);
    for (size_t t = 0; t < targets.size(); ++t) {
      const TargetCell* c = cellOf(rows[i], targets[t]);
      double x = x0 + barW * static_cast<double>(t);
      std::optional<double> v, sd;
      if (c && targets[t] == "native" && c->summary) v = 1.0, sd = 0.0;
      if (c && c->vsNative) v = c->vsNative->value, sd = c->vsNative->stddev;
      if (!v) {
        s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#c44e52\">×</text>\n", x + 3,
                         y(0) - 3);
        continue;
      }
      s += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.0f}\" height=\"{:.1f}\" "
          "fill=\"{}\"/>\n",
          x, y(*v), barW - 2, y(0) - y(*v), colours[t % 5]);
      if (*sd > 0)
        s += fmt::format(
            "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" "
            "stroke=\"black\"/>\n",
            x + barW / 2 - 1, x + barW / 2 - 1, y(*v - *sd), y(*v + *sd));
    }
    double lx = x0 + groupW / 2 - gap / 2, ly = top + plotH + 10;
    s += fmt::format("<text transform=\"translate({:.1f},{:.1f}) rotate(60)\">{}</text>\n", lx, ly,
                     xmlEscape(rows[i].metric));
  }
  for (size_t t = 0; t < targets.size(); ++t)
    s += fmt::format(
        "<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"10\" height=\"10\" fill=\"{}\"/>"
        "<text x=\"{:.0f}\" y=\"{:.0f}\">{}</text>\n",
        width - 120, 8 + 14 * static_cast<double>(t), colours[t % 5], width - 106,
        17 + 14 * static_cast<double>(t), xmlEscape(targets[t]));
  s += fmt::format(
      "<text x=\"12\" y=\"{:.0f}\" transform=\"rotate(-90 12 {:.0f})\" "
      "text-anchor=\"middle\">fraction of native</text>\n",
      top + plotH / 2, top + plotH / 2);
  return s + "</svg>\n";
}

nlohmann::json toJson(const RunRecord& r) {
  nlohmann::json samples = nlohmann::json::array();
  for (const auto& s : r.samples)
    samples.push_back({{"metric", s.metric},
                       {"value", s.value},
                       {"unit", s.unit},
                       {"better", betterName(s.better)}});
  nlohmann::json j = {{"target", r.target}, {"workload", r.workload}, {"trial", r.trial},
                      {"ok", r.ok},         {"seconds", r.seconds},   {"samples", samples}};
  if (!r.ok) j["error"] = r.error;
  return j;
}

Result<RunRecord> runRecordFromJson(const nlohmann::json& j) {
  try {
    RunRecord r;
    r.target = j.at("target");
    r.workload = j.at("workload");
    r.trial = j.at("trial");
    r.ok = j.at("ok");
    r.seconds = j.value("seconds", 0.0);
    r.error = j.value("error", "");
    for (const auto& s : j.at("samples")) {
      std::string better = s.at("better");
      r.samples.push_back({s.at("metric"), s.at("value"), s.at("unit"),
                           better == "lower" ? Better::lower : Better::higher});
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::invalid_argument, fmt::format("malformed run record: {}", e.what()));
  }
}

}  // namespace paddock::bench
