#include "common/result.h"

#include <array>
#include <utility>

namespace paddock {

namespace {
constexpr std::array<std::pair<Errc, const char*>, 8> kNames{{
    {Errc::invalid_argument, "invalid_argument"},
    {Errc::unauthorized, "unauthorized"},
    {Errc::not_found, "not_found"},
    {Errc::conflict, "conflict"},
    {Errc::unprocessable, "unprocessable"},
    {Errc::internal, "internal"},
    {Errc::unavailable, "unavailable"},
    {Errc::timeout, "timeout"},
}};
}  // namespace

int httpStatus(Errc code) {
  switch (code) {
    case Errc::invalid_argument:
      return 400;
    case Errc::unauthorized:
      return 401;
    case Errc::not_found:
      return 404;
    case Errc::conflict:
      return 409;
    case Errc::unprocessable:
      return 422;
    case Errc::internal:
      return 500;
    case Errc::unavailable:
      return 503;
    case Errc::timeout:
      return 504;
  }
  return 500;
}

const char* errcName(Errc code) {
  for (const auto& [c, name] : kNames)
    if (c == code) return name;
  return "internal";
}

std::optional<Errc> errcFromName(const std::string& name) {
  for (const auto& [c, n] : kNames)
    if (name == n) return c;
  return std::nullopt;
}

}  // namespace paddock
