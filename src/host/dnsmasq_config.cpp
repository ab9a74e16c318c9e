#include "host/dnsmasq_config.h"

#include <arpa/inet.h>

#include <charconv>
#include <sstream>

#include <fmt/format.h>

#include "host/host_command.h"

namespace paddock::host {

namespace {

std::string trimmedDir(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

bool validMac(const std::string& mac) {
  if (mac.size() != 17) return false;
  for (size_t i = 0; i < mac.size(); ++i) {
    if (i % 3 == 2) {
      if (mac[i] != ':') return false;
    } else if (!isxdigit(static_cast<unsigned char>(mac[i]))) {
      return false;
    }
  }
  return true;
}

// A single DNS label as dnsmasq accepts it for a DHCP host name.
bool validHostname(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() == '-' || name.back() == '-') return false;
  for (unsigned char c : name)
    if (!isalnum(c) && c != '-' && c != '_') return false;
  return true;
}

bool validDomain(const std::string& domain) {
  if (domain.size() > 253 || domain.front() == '.' || domain.back() == '.') return false;
  for (unsigned char c : domain)
    if (!isalnum(c) && c != '-' && c != '.') return false;
  return domain.find("..") == std::string::npos;
}

bool validNetmask(const std::string& mask) {
  in_addr a{};
  if (inet_pton(AF_INET, mask.c_str(), &a) != 1) return false;
  uint32_t inverse = ~ntohl(a.s_addr);
  return (inverse & (inverse + 1)) == 0;  // ones then zeros
}

}  // namespace

std::string dnsmasqConfPath(const std::string& dir) {
  return trimmedDir(dir) + "/dnsmasq.conf";
}
std::string dnsmasqHostsPath(const std::string& dir) {
  return trimmedDir(dir) + "/hosts";
}
std::string dnsmasqLeasesPath(const std::string& dir) {
  return trimmedDir(dir) + "/leases";
}
std::string dnsmasqPidPath(const std::string& dir) {
  return trimmedDir(dir) + "/dnsmasq.pid";
}
std::string dnsmasqLogPath(const std::string& dir) {
  return trimmedDir(dir) + "/dnsmasq.log";
}

Status validateDnsmasqConfig(const DnsmasqConfig& c) {
  auto bad = [&](const std::string& what) {
    return makeError(Errc::invalid_argument,
                     fmt::format("dnsmasq for network {}: {}", c.network, what));
  };
  if (c.dir.empty() || c.dir.front() != '/' || c.dir.find('\n') != std::string::npos)
    return bad(fmt::format("state directory '{}' is not an absolute path", c.dir));
  if (!validIfname(c.bridge)) return bad(fmt::format("invalid bridge name '{}'", c.bridge));
  if (!validIpv4(c.gatewayIp)) return bad(fmt::format("invalid gateway '{}'", c.gatewayIp));
  if (!validIpv4(c.rangeStart) || !validIpv4(c.rangeEnd))
    return bad(fmt::format("invalid DHCP range '{}'-'{}'", c.rangeStart, c.rangeEnd));
  if (!validNetmask(c.netmask)) return bad(fmt::format("invalid netmask '{}'", c.netmask));
  if (!c.domain.empty() && !validDomain(c.domain))
    return bad(fmt::format("invalid domain '{}'", c.domain));
  for (const auto& h : c.hosts) {
    if (!validMac(h.mac)) return bad(fmt::format("invalid MAC address '{}'", h.mac));
    if (!h.ip.empty() && !validIpv4(h.ip))
      return bad(fmt::format("invalid address '{}' for {}", h.ip, h.mac));
    if (h.hostname.find_first_of(",\n") != std::string::npos)
      return bad(fmt::format("invalid host name '{}' for {}", h.hostname, h.mac));
  }
  return {};
}

std::string renderDnsmasqConf(const DnsmasqConfig& c) {
  std::string network;
  for (char ch : c.network) network += (ch == '\n' || ch == '\r') ? ' ' : ch;
  std::string out =
      fmt::format("# dnsmasq for paddock network {}. Generated; edits are lost.\n", network);
  out += fmt::format(
      "interface={}\n"
      "except-interface=lo\n"
      "bind-interfaces\n"
      "listen-address={}\n"
      "port=53\n"
      // Guest names come from the reservations and leases only, never from the host's files.
      "no-hosts\n",
      c.bridge, c.gatewayIp);
  // Other names go to the resolvers of the host's /etc/resolv.conf (re-read when it changes)
  // where the guests have a way out; never bare names or private reverse lookups. Elsewhere
  // nothing is forwarded.
  out += c.forwardDns ? "resolv-file=/etc/resolv.conf\ndomain-needed\nbogus-priv\n" : "no-resolv\n";
  if (!c.domain.empty()) out += fmt::format("domain={0}\nlocal=/{0}/\nexpand-hosts\n", c.domain);
  out += fmt::format("dhcp-range={},{},{},1h\n", c.rangeStart, c.rangeEnd, c.netmask);
  // An empty option 3 keeps dnsmasq from offering itself as router on internal networks.
  out += c.router ? fmt::format("dhcp-option=3,{}\n", c.gatewayIp) : "dhcp-option=3\n";
  out += fmt::format("dhcp-option=6,{}\n", c.gatewayIp);
  out += "dhcp-authoritative\n";
  out += fmt::format("dhcp-leasefile={}\n", dnsmasqLeasesPath(c.dir));
  out += fmt::format("dhcp-hostsfile={}\n", dnsmasqHostsPath(c.dir));
  out += fmt::format("pid-file={}\n", dnsmasqPidPath(c.dir));
  out += fmt::format("log-facility={}\n", dnsmasqLogPath(c.dir));
  // Stay root: the lease file, pid file and log live in paddockd's private (0700) directory.
  out += "user=root\n";
  return out;
}

std::string renderDhcpHosts(const DnsmasqConfig& c) {
  std::string out;
  for (const auto& h : c.hosts) {
    out += h.mac;
    if (!h.ip.empty()) out += "," + h.ip;
    if (validHostname(h.hostname)) out += "," + h.hostname;
    out += "\n";
  }
  return out;
}

std::vector<Lease> parseLeases(const std::string& text) {
  std::vector<Lease> leases;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string expiry, mac, ip, hostname;
    if (!(fields >> expiry >> mac >> ip >> hostname)) continue;
    if (expiry == "duid" || !validIpv4(ip)) continue;
    Lease l;
    auto [end, ec] = std::from_chars(expiry.data(), expiry.data() + expiry.size(), l.expiry);
    if (ec != std::errc() || end != expiry.data() + expiry.size()) continue;
    l.mac = mac;
    l.ip = ip;
    if (hostname != "*") l.hostname = hostname;
    leases.push_back(std::move(l));
  }
  return leases;
}

}  // namespace paddock::host
