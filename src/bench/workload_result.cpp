#include "bench/workload_result.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>

namespace paddock::bench {

Result<std::vector<Sample>> parseResults(std::string_view output) {
  std::vector<Sample> out;
  std::istringstream lines{std::string(output)};
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("RESULT ", 0) != 0) continue;
    std::istringstream fields(line.substr(7));
    Sample s;
    std::string value, better, extra;
    if (!(fields >> s.metric >> value >> s.unit >> better) || (fields >> extra))
      return makeError(Errc::invalid_argument, fmt::format("malformed result line: {}", line));
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    bool number = end != value.c_str() && *end == '\0' && std::isfinite(s.value);
    // A share (of requests answered in time, say) can truly be 0; any other figure cannot.
    if (s.unit == "%" && (!number || s.value < 0 || s.value > 100))
      return makeError(Errc::invalid_argument,
                       fmt::format("result {} is not a share of 0-100 %: {}", s.metric, value));
    if (s.unit != "%" && (!number || s.value <= 0))
      return makeError(Errc::invalid_argument,
                       fmt::format("result {} is not a positive number: {}", s.metric, value));
    if (better != "higher" && better != "lower")
      return makeError(Errc::invalid_argument,
                       fmt::format("result {}: say higher or lower, not {}", s.metric, better));
    s.better = better == "higher" ? Better::higher : Better::lower;
    out.push_back(std::move(s));
  }
  if (out.empty()) return makeError(Errc::invalid_argument, "the workload printed no RESULT line");
  return out;
}

}  // namespace paddock::bench
