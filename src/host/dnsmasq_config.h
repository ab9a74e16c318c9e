// The files paddock writes for a network's dnsmasq, and the lease file it reads back.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "host/net_host.h"

namespace paddock::host {

// Paths inside DnsmasqConfig::dir (trailing slashes of `dir` are ignored).
std::string dnsmasqConfPath(const std::string& dir);
std::string dnsmasqHostsPath(const std::string& dir);
std::string dnsmasqLeasesPath(const std::string& dir);
std::string dnsmasqPidPath(const std::string& dir);
std::string dnsmasqLogPath(const std::string& dir);

// Checks everything that goes into the files (no stray newlines or commas can get in).
Status validateDnsmasqConfig(const DnsmasqConfig& config);
// dnsmasq.conf: DHCP and DNS on the bridge's gateway address only, no upstream servers.
std::string renderDnsmasqConf(const DnsmasqConfig& config);
// dhcp-hostsfile lines "mac,ip,hostname" (ip or hostname left out when empty or unusable).
std::string renderDhcpHosts(const DnsmasqConfig& config);
// Lease file lines "expiry mac ip hostname clientid"; hostname "*" is none; DHCPv6 lines and
// malformed ones are skipped.
std::vector<Lease> parseLeases(const std::string& text);

}  // namespace paddock::host
