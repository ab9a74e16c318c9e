#include "common/units.h"

#include <fmt/format.h>
#include <cctype>
#include <cmath>
#include <cstdlib>

namespace paddock {

namespace {

struct Split {
  double number = 0;
  std::string suffix;
};

Result<Split> splitNumber(std::string_view text, const char* what) {
  std::string s(text);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  size_t start = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == start)
    return makeError(Errc::invalid_argument, fmt::format("'{}' is not a {}", text, what));
  char* end = nullptr;
  std::string num = s.substr(start, i - start);
  double v = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size())
    return makeError(Errc::invalid_argument, fmt::format("'{}' is not a {}", text, what));
  return Split{v, s.substr(i)};
}

}  // namespace

Result<uint64_t> parseSizeMib(std::string_view text) {
  if (!text.empty() && text.front() == '-')
    return makeError(Errc::invalid_argument, fmt::format("size '{}' must not be negative", text));
  auto split = splitNumber(text, "size (use e.g. 512M or 2G)");
  if (!split) return split.error();
  std::string suf = split->suffix;
  for (auto& c : suf) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suf.size() > 1 && suf.back() == 'B') suf.pop_back();
  if (suf.size() > 1 && suf.back() == 'I') suf.pop_back();
  double mib;
  if (suf.empty() || suf == "M") {
    mib = split->number;
  } else if (suf == "K") {
    mib = split->number / 1024.0;
  } else if (suf == "G") {
    mib = split->number * 1024.0;
  } else if (suf == "T") {
    mib = split->number * 1024.0 * 1024.0;
  } else {
    return makeError(Errc::invalid_argument,
                     fmt::format("size '{}' has an unknown unit (use K, M, G or T)", text));
  }
  if (mib != std::floor(mib))
    return makeError(Errc::invalid_argument,
                     fmt::format("size '{}' is not a whole number of MiB", text));
  if (mib > 1e12)
    return makeError(Errc::invalid_argument, fmt::format("size '{}' is too large", text));
  return static_cast<uint64_t>(mib);
}

Result<uint64_t> parseRate(std::string_view text) {
  uint64_t mult = 1;
  std::string_view digits = text;
  if (!digits.empty() && std::string_view("kKmMgG").find(digits.back()) != std::string_view::npos) {
    char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(digits.back())));
    mult = unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1024 * 1024 * 1024;
    digits.remove_suffix(1);
  }
  // 12 digits times G stays far below 2^64.
  if (digits.empty() || digits.size() > 12 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos)
    return makeError(Errc::invalid_argument,
                     fmt::format("'{}' is not a rate (use e.g. 1M or 200)", text));
  return std::stoull(std::string(digits)) * mult;
}

std::string formatMib(uint64_t mib) {
  if (mib >= 1024 * 1024 && mib % (1024 * 1024) == 0)
    return fmt::format("{}T", mib / (1024 * 1024));
  if (mib >= 1024 && mib % 1024 == 0) return fmt::format("{}G", mib / 1024);
  if (mib >= 1024) return fmt::format("{:.1f}G", static_cast<double>(mib) / 1024.0);
  return fmt::format("{}M", mib);
}

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (!text.empty() && text.front() == '-')
    return makeError(Errc::invalid_argument,
                     fmt::format("duration '{}' must not be negative", text));
  auto split = splitNumber(text, "duration (use e.g. 30s or 2m)");
  if (!split) return split.error();
  const std::string& suf = split->suffix;
  double ms;
  if (suf.empty() || suf == "s") {
    ms = split->number * 1000;
  } else if (suf == "ms") {
    ms = split->number;
  } else if (suf == "m") {
    ms = split->number * 60'000;
  } else if (suf == "h") {
    ms = split->number * 3'600'000;
  } else {
    return makeError(Errc::invalid_argument,
                     fmt::format("duration '{}' has an unknown unit (use ms, s, m or h)", text));
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

}  // namespace paddock
