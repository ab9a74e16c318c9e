#include "host/host_command.h"

#include <arpa/inet.h>

#include <fmt/format.h>

namespace paddock::host {

std::string firstLine(const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    size_t b = line.find_first_not_of(" \t\r");
    if (b != std::string::npos) {
      size_t e = line.find_last_not_of(" \t\r");
      return line.substr(b, e - b + 1);
    }
    pos = end + 1;
  }
  return {};
}

std::string commandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

Error commandError(Errc code, const std::string& what, const std::vector<std::string>& argv,
                   const CommandOutput& out) {
  std::string reason = firstLine(out.err);
  if (reason.empty()) reason = firstLine(out.out);
  if (reason.empty()) reason = fmt::format("exit status {}", out.exitCode);
  return makeError(code, fmt::format("{}: `{}` failed: {}", what, commandLine(argv), reason));
}

Result<CommandOutput> runChecked(const std::vector<std::string>& argv, const std::string& what,
                                 std::chrono::milliseconds timeout) {
  auto out = runCommand(argv, timeout);
  if (!out) return makeError(out.error().code, fmt::format("{}: {}", what, out.error().message));
  if (out->exitCode != 0) return commandError(Errc::internal, what, argv, *out);
  return out;
}

bool validIpv4(const std::string& address) {
  in_addr a{};
  return inet_pton(AF_INET, address.c_str(), &a) == 1;
}

std::optional<Ipv4Cidr> parseIpv4Cidr(const std::string& cidr) {
  auto slash = cidr.find('/');
  if (slash == std::string::npos) return std::nullopt;
  Ipv4Cidr out;
  out.address = cidr.substr(0, slash);
  std::string prefix = cidr.substr(slash + 1);
  if (!validIpv4(out.address) || prefix.empty() || prefix.size() > 2) return std::nullopt;
  for (char c : prefix)
    if (c < '0' || c > '9') return std::nullopt;
  out.prefix = std::stoi(prefix);
  if (out.prefix > 32) return std::nullopt;
  return out;
}

}  // namespace paddock::host
