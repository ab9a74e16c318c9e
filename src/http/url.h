// Percent-encoding and request-target parsing (RFC 3986 / HTML form query conventions).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace paddock::http {

// Decodes %XX escapes (and '+' as space when plusIsSpace, as query strings use it).
// nullopt on a malformed escape.
std::optional<std::string> percentDecode(std::string_view text, bool plusIsSpace);

// Encodes everything but RFC 3986 unreserved characters, so the result is safe as a path
// segment or a query key/value.
std::string percentEncode(std::string_view text);

struct Target {
  std::string path;
  std::map<std::string, std::string> query;
};

// Splits "/a/b?x=1&y" into a decoded path and query map; errors on bad escapes or a target
// that is not origin-form (must start with '/').
Result<Target> parseTarget(std::string_view target);

}  // namespace paddock::http
