#include "model/live_snapshot.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "model/metrics.h"

namespace paddock {

using nlohmann::json;

namespace {

std::string escapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string formatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void putReadings(json& into, const std::vector<LiveReading>& readings) {
  for (const auto& r : readings) {
    if (r.label.empty())
      into[r.metric] = r.value;
    else
      into[r.metric][r.label] = r.value;
  }
}

}  // namespace

std::optional<double> LiveVm::value(std::string_view metric) const {
  for (const auto& r : readings)
    if (r.label.empty() && metric == r.metric) return r.value;
  return std::nullopt;
}

const LiveVm* LiveSnapshot::vm(std::string_view name) const {
  auto it = std::find_if(vms.begin(), vms.end(), [&](const LiveVm& v) { return v.name == name; });
  return it != vms.end() ? &*it : nullptr;
}

json LiveSnapshot::toJson() const {
  json out = {{"ts_ms", tsMs}, {"interval_ms", intervalMs}, {"host", json::object()}};
  putReadings(out["host"], host);
  json& byName = out["vms"] = json::object();
  for (const auto& v : vms) {
    json& entry = byName[v.name] = {{"state", vmStateName(v.state)}};
    if (!v.sampled) continue;
    putReadings(entry, v.readings);
    entry["memory_ts_ms"] = v.memoryTsMs;
  }
  return out;
}

std::string LiveSnapshot::exposition() const {
  std::string out;
  for (const auto& m : metricCatalog()) {
    std::string family =
        m.host ? fmt::format("paddock_{}", m.name) : fmt::format("paddock_vm_{}", m.name);
    std::string lines;
    auto line = [&](const std::string& labels, double v) {
      lines += fmt::format("{}{} {}\n", family, labels, formatValue(v));
    };
    if (m.host) {
      for (const auto& r : host)
        if (std::strcmp(r.metric, m.name) == 0) line("", r.value);
    } else {
      for (const auto& v : vms) {
        std::string base;
        for (const auto& r : v.readings) {
          if (std::strcmp(r.metric, m.name) != 0) continue;
          if (base.empty()) base = fmt::format("vm=\"{}\"", escapeLabel(v.name));
          if (r.label.empty())
            line("{" + base + "}", r.value);
          else
            line(fmt::format("{{{},{}=\"{}\"}}", base, m.label, escapeLabel(r.label)), r.value);
        }
      }
    }
    if (lines.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", family, m.help, family);
    out += lines;
  }
  return out;
}

}  // namespace paddock
