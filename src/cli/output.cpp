#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "common/units.h"

namespace paddock::cli {

void Table::print() const {
  std::vector<size_t> width(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) width[i] = headers_[i].size();
  for (const auto& r : rows_)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::printf("%s\n", out.c_str());
  };
  line(headers_);
  for (const auto& r : rows_) line(r);
}

void printJson(const nlohmann::json& j) {
  std::printf("%s\n", j.dump(2).c_str());
}

Progress::Progress(std::string label) : label_(std::move(label)), tty_(isatty(STDERR_FILENO)) {}

void Progress::update(int percent, const std::string& message) {
  if (tty_) {
    int filled = std::clamp(percent, 0, 100) / 5;
    std::string bar = std::string(static_cast<size_t>(filled), '#') +
                      std::string(static_cast<size_t>(20 - filled), '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %3d%% %s", label_.c_str(), bar.c_str(), percent,
                 message.substr(0, 60).c_str());
    drawn_ = true;
  } else if (message != lastMessage_ && !message.empty()) {
    std::fprintf(stderr, "%s: %s\n", label_.c_str(), message.c_str());
  }
  lastMessage_ = message;
}

void Progress::done() {
  if (tty_ && drawn_) std::fprintf(stderr, "\r\033[K");
}

std::string humanDuration(int64_t ms) {
  if (ms < 0) ms = 0;
  int64_t s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

std::string diskSummary(const nlohmann::json& vm) {
  std::string out;
  for (const auto& d : vm["disks"]) {
    if (!out.empty()) out += ",";
    out += d.value("name", "") + ":" + formatMib(d.value("size_mib", uint64_t{0}));
  }
  return out.empty() ? "-" : out;
}

std::string joinNames(const nlohmann::json& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.get<std::string>();
  return out.empty() ? "-" : out;
}

std::string humanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace paddock::cli
