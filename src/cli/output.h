// Tables for people, JSON for scripts, and a progress line for long operations.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace paddock::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

void printJson(const nlohmann::json& j);

// Renders operation progress on stderr: a redrawn bar on a terminal, one line per new message
// otherwise (logs, CI).
class Progress {
 public:
  explicit Progress(std::string label);
  void update(int percent, const std::string& message);
  void done();

 private:
  std::string label_;
  std::string lastMessage_;
  bool tty_;
  bool drawn_ = false;
};

std::string humanDuration(int64_t ms);
// 1536 → "1.5 KiB", 0 → "0 B".
std::string humanBytes(uint64_t bytes);
// A VM spec's disks as "root:1G,data:4G" ("-" for none).
std::string diskSummary(const nlohmann::json& vm);
// A JSON list of names as "a, b, c" ("-" for none).
std::string joinNames(const nlohmann::json& names);

}  // namespace paddock::cli
