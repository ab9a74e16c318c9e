#include "common/names.h"

#include <fmt/format.h>

namespace paddock {

Status validateName(std::string_view name, std::string_view what) {
  if (name.empty()) return makeError(Errc::invalid_argument, fmt::format("{} is empty", what));
  if (name.size() > kMaxNameLength)
    return makeError(Errc::invalid_argument, fmt::format("{} is {} characters long (at most {})",
                                                         what, name.size(), kMaxNameLength));
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      std::string shown = c == ' ' ? "a space" : c == '/' ? "'/'" : fmt::format("'{}'", c);
      return makeError(Errc::invalid_argument,
                       fmt::format("{} '{}' contains {} (use lower-case letters, digits and '-')",
                                   what, name, shown));
    }
  }
  if (!(name.front() >= 'a' && name.front() <= 'z'))
    return makeError(Errc::invalid_argument,
                     fmt::format("{} '{}' must start with a lower-case letter", what, name));
  if (name.back() == '-')
    return makeError(Errc::invalid_argument,
                     fmt::format("{} '{}' must not end with '-'", what, name));
  return {};
}

bool validIfname(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (unsigned char c : name)
    if (c <= ' ' || c >= 0x7f || c == '/' || c == ':' || c == '"' || c == '\\') return false;
  return true;
}

Result<std::vector<std::string>> expandNameRange(std::string_view pattern) {
  auto open = pattern.find('[');
  auto close = pattern.find(']');
  if (open == std::string_view::npos && close == std::string_view::npos)
    return std::vector<std::string>{std::string(pattern)};
  auto bad = [&](std::string_view why) {
    return makeError(Errc::invalid_argument,
                     fmt::format("name range '{}' {} (write e.g. web[1-20])", pattern, why));
  };
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return bad("has unbalanced brackets");
  if (pattern.find('[', open + 1) != std::string_view::npos) return bad("has more than one range");
  std::string_view inner = pattern.substr(open + 1, close - open - 1);
  auto dash = inner.find('-');
  if (dash == std::string_view::npos) return bad("needs FIRST-LAST inside the brackets");
  std::string_view first = inner.substr(0, dash), last = inner.substr(dash + 1);
  auto digits = [](std::string_view s) {
    return !s.empty() && s.size() <= 6 &&
           s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  if (!digits(first) || !digits(last)) return bad("needs numbers of at most 6 digits");
  unsigned long from = std::stoul(std::string(first)), to = std::stoul(std::string(last));
  if (to < from) return bad("runs backwards");
  if (to - from + 1 > kMaxNameRange)
    return bad(fmt::format("makes {} names (at most {})", to - from + 1, kMaxNameRange));
  // A leading zero asks for fixed width: [01-20] gives 01 ... 20.
  size_t width = first.size() > 1 && first.front() == '0' ? first.size() : 0;
  std::vector<std::string> out;
  for (unsigned long i = from; i <= to; ++i)
    out.push_back(
        fmt::format("{}{:0{}}{}", pattern.substr(0, open), i, width, pattern.substr(close + 1)));
  return out;
}

}  // namespace paddock
