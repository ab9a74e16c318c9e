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

}  // namespace paddock
