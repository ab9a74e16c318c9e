// Where paddockd listens, as given on the command line or in config.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace paddock::http {

struct Endpoint {
  enum class Kind { unix_socket, tcp };

  Kind kind = Kind::unix_socket;
  std::string path;  // unix_socket
  std::string host;  // tcp: name or IP literal (IPv6 without brackets)
  std::uint16_t port = 0;

  // Accepts "unix:/path/to.sock", "/path/to.sock", "host:port", "[::1]:port",
  // "http://host:port" (a trailing "/" is tolerated).
  static Result<Endpoint> parse(std::string_view text);

  static Endpoint unixSocket(std::string path);
  static Endpoint tcp(std::string host, std::uint16_t port);

  bool isTcp() const { return kind == Kind::tcp; }
  // "unix:/path" or "host:port" ("[v6]:port"); used in error messages.
  std::string toString() const;
  // Value for the Host header.
  std::string hostHeader() const;
};

}  // namespace paddock::http
