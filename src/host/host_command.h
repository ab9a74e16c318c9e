// Helpers shared by the host network code: running iproute2/nft/dnsmasq with one-line errors,
// and validating the names and addresses that end up on their command lines or config files.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/names.h"
#include "common/result.h"
#include "common/subprocess.h"

namespace paddock::host {

// First non-empty line of `text`, trimmed; empty if there is none.
std::string firstLine(const std::string& text);

// "ip link add x type bridge": argv joined with spaces, for messages.
std::string commandLine(const std::vector<std::string>& argv);

// The error for a command that ran but failed: "WHAT: `CMD` failed: FIRST STDERR LINE".
Error commandError(Errc code, const std::string& what, const std::vector<std::string>& argv,
                   const CommandOutput& out);

// Runs argv; a missing binary is Errc::unavailable, a non-zero exit Errc::internal, both with a
// one-line message that starts with `what` (e.g. "cannot create bridge pdb1").
Result<CommandOutput> runChecked(const std::vector<std::string>& argv, const std::string& what,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Dotted-quad IPv4 address.
bool validIpv4(const std::string& address);

struct Ipv4Cidr {
  std::string address;
  int prefix = 0;
};
// "10.7.0.1/24" → {"10.7.0.1", 24}; nullopt if malformed.
std::optional<Ipv4Cidr> parseIpv4Cidr(const std::string& cidr);

}  // namespace paddock::host
