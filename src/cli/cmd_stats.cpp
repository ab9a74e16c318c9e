// paddock vm stats | vm chart | host stats | top: the collector's history and newest values.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "cli/chart_file.h"
#include "cli/cli_context.h"
#include "cli/output.h"
#include "common/files.h"
#include "model/metrics.h"

namespace paddock::cli {

namespace {

using nlohmann::json;

// 1536 → "1.5 KiB"; values below 1024 as they are.
std::string iec(double v, const char* suffix) {
  const char* units[] = {"", "Ki", "Mi", "Gi", "Ti"};
  int u = 0;
  while (std::fabs(v) >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} {}", v, suffix)
                : fmt::format("{:.1f} {}{}", v, units[u], suffix);
}

std::string formatMetric(double v, const std::string& unit) {
  if (unit == "percent") return fmt::format("{:.1f}%", v);
  if (unit == "bytes") return iec(v, "B");
  if (unit == "bytes_per_second") return iec(v, "B/s");
  if (unit == "ms") return fmt::format("{:.2f} ms", v);
  if (unit == "per_second") return fmt::format("{:.1f}/s", v);
  return fmt::format("{:.0f}", v);
}

std::string query(const std::string& since, const std::string& metric) {
  std::string q = "?since=" + since;
  if (!metric.empty()) q += "&metric=" + metric;
  return q;
}

// One row per series: its newest, mean and highest value over the window.
void printSeriesTable(const json& stats) {
  Table t({"METRIC", "LABEL", "LAST", "AVG", "MAX", "POINTS"});
  for (const auto& s : stats["series"]) {
    const auto& points = s["points"];
    if (points.empty()) continue;
    std::string unit = s.value("unit", "");
    double sum = 0, max = -INFINITY;
    for (const auto& p : points) {
      double v = p[1].get<double>();
      sum += v;
      max = std::max(max, v);
    }
    std::string label = s.value("labels", "");
    t.add({s.value("metric", ""), label.substr(label.find('=') + 1),
           formatMetric(points.back()[1].get<double>(), unit),
           formatMetric(sum / static_cast<double>(points.size()), unit), formatMetric(max, unit),
           std::to_string(points.size())});
  }
  t.print();
  std::printf(
      "\n%s resolution, sampled every %s\n",
      stats.value("step_ms", 0) == 0 ? "raw" : humanDuration(stats.value("step_ms", 0)).c_str(),
      humanDuration(stats.value("interval_ms", 0)).c_str());
}

void printCsv(const json& stats) {
  std::printf("metric,labels,unit,ts_ms,value\n");
  for (const auto& s : stats["series"])
    for (const auto& p : s["points"])
      std::printf("%s,%s,%s,%lld,%s\n", s.value("metric", "").c_str(),
                  s.value("labels", "").c_str(), s.value("unit", "").c_str(),
                  static_cast<long long>(p[0].get<int64_t>()),
                  fmt::format("{}", p[1].get<double>()).c_str());
}

void addHistoryOptions(CLI::App* c, std::shared_ptr<std::string> since,
                       std::shared_ptr<std::string> metric, std::shared_ptr<bool> csv) {
  c->add_option("--since", *since, "how far back: 90s, 30m, 1h, 7d (default 1h)");
  c->add_option("--metric", *metric, "only this metric (see `paddock host metrics`)");
  c->add_flag("--csv", *csv, "one line per point, for spreadsheets");
}

double number(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

// The sum over a labelled metric's values ("disk_read_bytes_per_second": {"root": 1, "data": 2}).
double total(const json& j, const char* key) {
  if (!j.contains(key) || !j[key].is_object()) return NAN;
  double sum = 0;
  for (const auto& [k, v] : j[key].items()) sum += v.get<double>();
  return sum;
}

std::string cell(double v, const std::string& unit) {
  return std::isnan(v) ? "-" : formatMetric(v, unit);
}

void printTop(const json& live, const std::string& sort) {
  struct Row {
    std::string name, state;
    double cpu, ready, mem, avail, rss, disk, net;
  };
  std::vector<Row> rows;
  for (const auto& [name, v] : live["vms"].items()) {
    double disk = total(v, "disk_read_bytes_per_second") + total(v, "disk_write_bytes_per_second");
    double net = total(v, "net_rx_bytes_per_second") + total(v, "net_tx_bytes_per_second");
    rows.push_back({name, v.value("state", ""), number(v, "cpu_percent"),
                    number(v, "cpu_ready_percent"), number(v, "memory_balloon_bytes"),
                    number(v, "memory_guest_available_bytes"), number(v, "memory_rss_bytes"), disk,
                    net});
  }
  auto key = [&](const Row& r) {
    double v = sort == "ready"  ? r.ready
               : sort == "mem"  ? r.rss
               : sort == "disk" ? r.disk
               : sort == "net"  ? r.net
                                : r.cpu;
    return std::isnan(v) ? -1.0 : v;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (sort == "name") return a.name < b.name;
    return key(a) > key(b);
  });
  const json& h = live["host"];
  std::printf(
      "paddock top — host CPU %s, memory available %s of %s, KSM saves %s, %d VMs running\n\n",
      cell(number(h, "host_cpu_percent"), "percent").c_str(),
      cell(number(h, "host_memory_available_bytes"), "bytes").c_str(),
      cell(number(h, "host_memory_total_bytes"), "bytes").c_str(),
      cell(number(h, "host_ksm_saved_bytes"), "bytes").c_str(),
      static_cast<int>(number(h, "host_vms_running")));
  Table t({"VM", "STATE", "CPU", "READY", "MEMORY", "GUEST AVAIL", "RSS", "DISK", "NET"});
  for (const auto& r : rows)
    t.add({r.name, r.state, cell(r.cpu, "percent"), cell(r.ready, "percent"), cell(r.mem, "bytes"),
           cell(r.avail, "bytes"), cell(r.rss, "bytes"), cell(r.disk, "bytes_per_second"),
           cell(r.net, "bytes_per_second")});
  t.print();
}

}  // namespace

void addStatsCommands(CLI::App& app, CliContext& ctx) {
  CLI::App* vm = app.get_subcommand("vm");
  CLI::App* host = app.get_subcommand("host");
  {
    auto* c = vm->add_subcommand("stats", "A VM's metrics over time (newest, mean, highest)");
    auto name = std::make_shared<std::string>();
    auto since = std::make_shared<std::string>("1h");
    auto metric = std::make_shared<std::string>();
    auto csv = std::make_shared<bool>(false);
    c->add_option("name", *name)->required();
    addHistoryOptions(c, since, metric, csv);
    c->callback([=, &ctx] {
      auto stats = ctx.must(
          ctx.client().call("GET", "/v1/vms/" + *name + "/stats" + query(*since, *metric)));
      if (ctx.json) return printJson(stats);
      if (*csv) return printCsv(stats);
      printSeriesTable(stats);
    });
  }
  {
    auto* c = host->add_subcommand("stats", "The host's metrics over time");
    auto since = std::make_shared<std::string>("1h");
    auto metric = std::make_shared<std::string>();
    auto csv = std::make_shared<bool>(false);
    addHistoryOptions(c, since, metric, csv);
    c->callback([=, &ctx] {
      auto stats = ctx.must(ctx.client().call("GET", "/v1/host/stats" + query(*since, *metric)));
      if (ctx.json) return printJson(stats);
      if (*csv) return printCsv(stats);
      printSeriesTable(stats);
    });
  }
  {
    auto* c = host->add_subcommand("metrics", "Every metric the collector records");
    c->callback([&ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/metrics/catalog"));
      if (ctx.json) return printJson(out["metrics"]);
      Table t({"METRIC", "SCOPE", "UNIT", "LABEL", "MEANING"});
      for (const auto& m : out["metrics"])
        t.add({m.value("name", ""), m.value("scope", ""), m.value("unit", ""), m.value("label", ""),
               m.value("help", "")});
      t.print();
    });
  }
  {
    auto* c = host->add_subcommand("ksm", "Show or set kernel same-page merging (KSM)");
    auto state = std::make_shared<std::string>();
    auto pages = std::make_shared<int64_t>(0);
    auto sleep = std::make_shared<int64_t>(0);
    c->add_option("state", *state, "on or off; without it, show the state")
        ->check(CLI::IsMember({"on", "off"}));
    c->add_option("--pages-to-scan", *pages, "pages ksmd scans per wake-up");
    c->add_option("--sleep-ms", *sleep, "milliseconds between wake-ups");
    c->callback([=, &ctx] {
      nlohmann::json k;
      if (state->empty()) {
        k = ctx.must(ctx.client().call("GET", "/v1/host/ksm"));
      } else {
        nlohmann::json req = {{"run", *state == "on"}};
        if (*pages > 0) req["pages_to_scan"] = *pages;
        if (*sleep > 0) req["sleep_millisecs"] = *sleep;
        k = ctx.must(ctx.client().call("PUT", "/v1/host/ksm", req));
      }
      if (ctx.json) return printJson(k);
      std::printf("KSM %s (scans %lld pages every %lld ms): %lld pages shared by %lld, saving %s\n",
                  k.value("run", false) ? "on" : "off",
                  static_cast<long long>(k.value("pages_to_scan", 0)),
                  static_cast<long long>(k.value("sleep_millisecs", 0)),
                  static_cast<long long>(k.value("pages_shared", 0)),
                  static_cast<long long>(k.value("pages_sharing", 0)),
                  formatMetric(k.value("saved_bytes", 0.0), "bytes").c_str());
    });
  }
  {
    auto* c = vm->add_subcommand("chart", "Draw a VM's metric over time as an SVG or PNG file");
    auto name = std::make_shared<std::string>();
    auto since = std::make_shared<std::string>("1h");
    auto metric = std::make_shared<std::string>("cpu_percent");
    auto out = std::make_shared<std::string>();
    auto format = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->add_option("--metric", *metric, "the metric to draw (default cpu_percent)");
    c->add_option("--since", *since, "how far back, the span of the x axis (default 1h)");
    c->add_option("-o,--output", *out, "the file to write: .svg or .png")->required();
    c->add_option("--format", *format, "svg or png (default: from the -o extension)")
        ->check(CLI::IsMember({"svg", "png"}));
    c->callback([=, &ctx] {
      // A bad file name fails before paddockd is asked anything, and nothing is written.
      auto chosen = chartFormatFor(*out, *format);
      if (!chosen) throw CLI::ValidationError(chosen.error().message);
      auto stats = ctx.must(
          ctx.client().call("GET", "/v1/vms/" + *name + "/stats" + query(*since, *metric)));
      std::vector<ChartSeries> series;
      std::string unit;
      for (const auto& s : stats["series"]) {
        ChartSeries cs;
        std::string label = s.value("labels", "");
        cs.label = label.empty() ? *metric : label.substr(label.find('=') + 1);
        for (const auto& p : s["points"])
          cs.points.push_back({p[0].get<int64_t>(), p[1].get<double>()});
        unit = s.value("unit", "");
        series.push_back(std::move(cs));
      }
      ChartOptions o;
      o.title = fmt::format("{} — {} (last {})", *name, *metric, *since);
      o.unit = unit == "percent" ? "%" : unit == "bytes_per_second" ? "B/s" : unit;
      if (unit == "percent") o.yMax = 100;
      // paddockd's clock, not ours: the window ends where its "now" did.
      if (auto span = parseDuration(*since, "since"); span && stats.contains("since_ms"))
        o.window =
            TimeWindow{stats["since_ms"].get<int64_t>(), stats["since_ms"].get<int64_t>() + *span};
      auto bytes = ctx.must(renderChart(series, o, *chosen));
      if (auto s = writeFileAtomic(*out, bytes, 0644); !s) ctx.fail(s.error());
      if (!ctx.json) std::printf("wrote %s (%zu series)\n", out->c_str(), series.size());
    });
  }
  {
    auto* c = app.add_subcommand("top", "Live view of every VM, refreshed (z/VM INDICATE)");
    auto sort = std::make_shared<std::string>("cpu");
    auto once = std::make_shared<bool>(false);
    auto delay = std::make_shared<double>(0);
    c->add_option("--sort", *sort, "cpu, ready, mem, disk, net or name (default cpu)")
        ->check(CLI::IsMember({"cpu", "ready", "mem", "disk", "net", "name"}));
    c->add_flag("--once", *once, "print one screen and exit (also when output is not a terminal)");
    c->add_option("--delay", *delay, "seconds between screens (default: the sample interval)");
    c->callback([=, &ctx] {
      bool tty = isatty(STDOUT_FILENO) && !*once && !ctx.json;
      for (;;) {
        auto live = ctx.must(ctx.client().call("GET", "/v1/stats/live"));
        if (ctx.json) return printJson(live);
        if (tty) std::printf("\033[H\033[2J");
        printTop(live, *sort);
        std::fflush(stdout);
        if (!tty) return;
        double seconds = *delay > 0 ? *delay : live.value("interval_ms", 10000) / 1000.0;
        std::this_thread::sleep_for(
            std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
      }
    });
  }
}

}  // namespace paddock::cli
