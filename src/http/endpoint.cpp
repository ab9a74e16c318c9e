#include "http/endpoint.h"

#include <charconv>

namespace paddock::http {

namespace {

Error invalid(std::string_view text, std::string_view why) {
  return makeError(Errc::invalid_argument,
                   "invalid endpoint '" + std::string(text) + "': " + std::string(why) +
                       " (expected unix:/path, /path, host:port or http://host:port)");
}

}  // namespace

Endpoint Endpoint::unixSocket(std::string path) {
  Endpoint e;
  e.kind = Kind::unix_socket;
  e.path = std::move(path);
  return e;
}

Endpoint Endpoint::tcp(std::string host, std::uint16_t port) {
  Endpoint e;
  e.kind = Kind::tcp;
  e.host = std::move(host);
  e.port = port;
  return e;
}

Result<Endpoint> Endpoint::parse(std::string_view text) {
  if (text.empty()) return invalid(text, "empty");
  if (text.rfind("unix:", 0) == 0) {
    auto path = text.substr(5);
    // Tolerate the URL-ish "unix:///run/x.sock" spelling too.
    while (path.size() > 1 && path.substr(0, 2) == "//") path.remove_prefix(1);
    if (path.empty()) return invalid(text, "empty socket path");
    return unixSocket(std::string(path));
  }
  if (text.front() == '/') return unixSocket(std::string(text));

  auto rest = text;
  if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return invalid(text, "unsupported scheme");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return invalid(text, "unexpected path");

  std::string_view host;
  std::string_view portText;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return invalid(text, "expected [address]:port");
    host = rest.substr(1, close - 1);
    portText = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return invalid(text, "missing port");
    host = rest.substr(0, colon);
    portText = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return invalid(text, "IPv6 addresses need brackets");
  }
  if (host.empty()) return invalid(text, "missing host");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc{} || end != portText.data() + portText.size() || port == 0 || port > 65535)
    return invalid(text, "bad port");
  return tcp(std::string(host), static_cast<std::uint16_t>(port));
}

std::string Endpoint::toString() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  return hostHeader();
}

std::string Endpoint::hostHeader() const {
  if (kind == Kind::unix_socket) return "localhost";
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace paddock::http
