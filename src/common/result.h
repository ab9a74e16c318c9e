// Result<T>: the expected-style return type for failures callers are meant to handle.
// An Error carries a code that maps onto an HTTP status and a one-line message for people.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace paddock {

enum class Errc {
  invalid_argument,  // 400: the request itself is wrong (bad field, bad syntax)
  unauthorized,      // 401
  not_found,         // 404
  conflict,          // 409: valid request, wrong state (VM running, name taken)
  unprocessable,     // 422: valid request the host cannot honour (too many vCPUs)
  internal,          // 500
  unavailable,       // 503: a dependency (QEMU, image) is missing or not ready
  timeout,           // 504
};

int httpStatus(Errc code);
const char* errcName(Errc code);
std::optional<Errc> errcFromName(const std::string& name);

struct Error {
  Errc code = Errc::internal;
  std::string message;
  std::string field;  // the offending request field, when there is one
};

inline Error makeError(Errc code, std::string message, std::string field = {}) {
  return Error{code, std::move(message), std::move(field)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace paddock

// Propagates an error from an expression yielding Result<...>.
#define PADDOCK_TRY(expr)                                    \
  do {                                                       \
    auto paddock_try_r_ = (expr);                            \
    if (!paddock_try_r_.ok()) return paddock_try_r_.error(); \
  } while (0)

// `PADDOCK_TRY_ASSIGN(auto x, f());` or `PADDOCK_TRY_ASSIGN(y, f());`: assigns the value of a
// Result or returns its error. A statement; use it in a block of its own.
#define PADDOCK_CONCAT_IMPL_(a, b) a##b
#define PADDOCK_CONCAT_(a, b) PADDOCK_CONCAT_IMPL_(a, b)
#define PADDOCK_TRY_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.error();             \
  lhs = std::move(tmp.value())
#define PADDOCK_TRY_ASSIGN(lhs, expr) \
  PADDOCK_TRY_ASSIGN_IMPL_(PADDOCK_CONCAT_(paddock_try_assign_, __LINE__), lhs, expr)
