#include "host/nft_nat.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "host/host_command.h"

namespace paddock::host {

namespace {

// The network address of `cidr` ("10.7.0.1/24" → "10.7.0.0/24").
std::optional<std::string> networkOf(const std::string& cidr) {
  auto parsed = parseIpv4Cidr(cidr);
  if (!parsed) return std::nullopt;
  in_addr a{};
  inet_pton(AF_INET, parsed->address.c_str(), &a);
  uint32_t mask = parsed->prefix == 0 ? 0 : ~uint32_t{0} << (32 - parsed->prefix);
  a.s_addr = htonl(ntohl(a.s_addr) & mask);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return fmt::format("{}/{}", buf, parsed->prefix);
}

// Runs `nft -f` on `script` through a private temporary file (runCommand gives no stdin).
Status runNftScript(const std::string& script, const std::string& what) {
  char path[] = "/tmp/paddock-nft-XXXXXX";
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0)
    return makeError(Errc::internal, fmt::format("{}: cannot create a temporary file", what));
  size_t done = 0;
  while (done < script.size()) {
    ssize_t n = write(fd, script.data() + done, script.size() - done);
    if (n <= 0) {
      close(fd);
      unlink(path);
      return makeError(Errc::internal, fmt::format("{}: cannot write {}", what, path));
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  auto out = runChecked({"nft", "-f", path}, what);
  unlink(path);
  if (!out) return out.error();
  return {};
}

}  // namespace

bool validNftName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  if (!isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') return false;
  for (unsigned char c : name)
    if (!isalnum(c) && c != '_') return false;
  return true;
}

Result<std::string> renderNatScript(const NatConfig& config) {
  if (!validNftName(config.table))
    return makeError(Errc::invalid_argument,
                     fmt::format("invalid nftables table name '{}'", config.table));
  if (!validIfname(config.bridge))
    return makeError(Errc::invalid_argument, fmt::format("NAT table {}: invalid bridge name '{}'",
                                                         config.table, config.bridge));
  auto subnet = networkOf(config.subnetCidr);
  if (!subnet)
    return makeError(Errc::invalid_argument, fmt::format("NAT table {}: invalid subnet '{}'",
                                                         config.table, config.subnetCidr));
  std::vector<std::string> dnat;
  for (const auto& f : config.forwards) {
    if (f.protocol != "tcp" && f.protocol != "udp")
      return makeError(
          Errc::invalid_argument,
          fmt::format("NAT table {}: port forward protocol must be tcp or udp, not '{}'",
                      config.table, f.protocol));
    if (f.hostPort < 1 || f.hostPort > 65535 || f.guestPort < 1 || f.guestPort > 65535)
      return makeError(Errc::invalid_argument,
                       fmt::format("NAT table {}: port forward {} → {}: ports must be 1-65535",
                                   config.table, f.hostPort, f.guestPort));
    if (!validIpv4(f.guestIp))
      return makeError(
          Errc::invalid_argument,
          fmt::format("NAT table {}: invalid guest address '{}'", config.table, f.guestIp));
    dnat.push_back(
        fmt::format("{} dport {} dnat to {}:{}", f.protocol, f.hostPort, f.guestIp, f.guestPort));
  }
  // Forwards apply to traffic addressed to one of the host's own addresses only (fib ... local),
  // never to traffic passing through. From the host itself (output), loopback destinations are
  // left alone: a DNATed packet from 127.0.0.1 would be dropped as martian on the bridge.
  std::string prerouting, output;
  for (const auto& rule : dnat) {
    prerouting += fmt::format("    fib daddr type local {}\n", rule);
    output += fmt::format("    ip daddr != 127.0.0.0/8 fib daddr type local {}\n", rule);
  }
  const std::string& t = config.table;
  const std::string& br = config.bridge;
  return fmt::format(
      "table ip {t}\n"
      "delete table ip {t}\n"
      "table ip {t} {{\n"
      "  chain postrouting {{\n"
      "    type nat hook postrouting priority srcnat; policy accept;\n"
      "    ip saddr {net} ip daddr != {{ 224.0.0.0/24, 255.255.255.255 }} oifname != \"{br}\" "
      "masquerade\n"
      // A guest reaching another guest's forward through a host address: without this the
      // reply would go straight back on the bridge and never match the connection.
      "    oifname \"{br}\" ip saddr {net} ip daddr {net} ct status dnat masquerade\n"
      "  }}\n"
      "  chain prerouting {{\n"
      "    type nat hook prerouting priority dstnat; policy accept;\n"
      "{pre}"
      "  }}\n"
      "  chain output {{\n"
      // nft 1.0.6 accepts "dstnat" only on prerouting; -100 is its value.
      "    type nat hook output priority -100; policy accept;\n"
      "{out}"
      "  }}\n"
      // Accepts here do not override a drop in another table's forward chain (e.g. iptables
      // FORWARD policy DROP); they only make this table's intent explicit.
      "  chain forward {{\n"
      "    type filter hook forward priority filter; policy accept;\n"
      "    iifname \"{br}\" ip saddr {net} accept\n"
      "    oifname \"{br}\" ip daddr {net} ct state established,related accept\n"
      "    oifname \"{br}\" ct status dnat accept\n"
      "  }}\n"
      "}}\n",
      fmt::arg("t", t), fmt::arg("br", br), fmt::arg("net", *subnet), fmt::arg("pre", prerouting),
      fmt::arg("out", output));
}

Status applyNat(const NatConfig& config) {
  auto script = renderNatScript(config);
  if (!script) return script.error();
  PADDOCK_TRY(runNftScript(*script, fmt::format("cannot set up NAT table {}", config.table)));
  auto fwd = runChecked({"sysctl", "-w", "net.ipv4.ip_forward=1"},
                        fmt::format("NAT table {}: cannot enable IPv4 forwarding", config.table));
  if (!fwd) return fwd.error();
  return {};
}

Status deleteNatTable(const std::string& table) {
  if (!validNftName(table))
    return makeError(Errc::invalid_argument,
                     fmt::format("invalid nftables table name '{}'", table));
  return runNftScript(fmt::format("table ip {0}\ndelete table ip {0}\n", table),
                      fmt::format("cannot remove NAT table {}", table));
}

std::vector<std::string> natTables(const std::string& prefix) {
  std::vector<std::string> names;
  auto out = runCommand({"nft", "-j", "list", "tables", "ip"}, std::chrono::seconds(30));
  if (!out || out->exitCode != 0) return names;
  auto doc = nlohmann::json::parse(out->out, nullptr, false);
  if (!doc.is_object() || !doc.contains("nftables") || !doc["nftables"].is_array()) return names;
  for (const auto& item : doc["nftables"]) {
    if (!item.is_object() || !item.contains("table")) continue;
    const auto& table = item["table"];
    std::string name = table.value("name", "");
    if (table.value("family", "") == "ip" && name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  return names;
}

}  // namespace paddock::host
