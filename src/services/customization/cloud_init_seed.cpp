#include "services/customization/cloud_init_seed.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/subprocess.h"

namespace paddock {

namespace {

// A JSON string is a valid YAML double-quoted scalar.
std::string q(const std::string& s) {
  return nlohmann::json(s).dump();
}

}  // namespace

SeedFiles renderSeed(const CustomizationSpec& spec, const std::string& vmName,
                     const std::vector<SeedNic>& nics) {
  SeedFiles f;
  std::string host = customizedHostname(spec, vmName);
  f.metaData =
      fmt::format("instance-id: {}\nlocal-hostname: {}\n", q("paddock-" + vmName), q(host));

  std::string& u = f.userData;
  u = "#cloud-config\n";
  u += fmt::format("hostname: {}\n", q(host));
  if (!spec.domain.empty()) u += fmt::format("fqdn: {}\n", q(host + "." + spec.domain));
  u += "manage_etc_hosts: true\n";
  if (!spec.users.empty()) {
    u += "users:\n";
    for (const auto& user : spec.users) {
      u += fmt::format("  - name: {}\n", q(user.name));
      if (!user.sshAuthorizedKeys.empty()) {
        u += "    ssh_authorized_keys:\n";
        for (const auto& k : user.sshAuthorizedKeys) u += fmt::format("      - {}\n", q(k));
      }
      if (user.sudo) u += fmt::format("    sudo: {}\n", q("ALL=(ALL) NOPASSWD:ALL"));
      if (!user.shell.empty()) u += fmt::format("    shell: {}\n", q(user.shell));
    }
  }
  if (!spec.runcmd.empty()) {
    u += "runcmd:\n";
    for (const auto& c : spec.runcmd) u += fmt::format("  - {}\n", q(c));
  }

  std::string& n = f.networkConfig;
  n = "version: 2\nethernets:\n";
  bool routed = false;
  for (size_t i = 0; i < nics.size(); ++i) {
    const auto& nic = nics[i];
    n += fmt::format("  nic{}:\n    match:\n      macaddress: {}\n", i, q(nic.mac));
    n += fmt::format("    dhcp4: {}\n", nic.mode == NicConfigMode::dhcp ? "true" : "false");
    if (nic.mode != NicConfigMode::static_ip) continue;
    n += fmt::format("    addresses:\n      - {}\n", q(nic.address));
    // One default route, through the first static NIC's gateway.
    if (!routed && !nic.gateway.empty()) {
      n += fmt::format("    routes:\n      - to: {}\n        via: {}\n", q("0.0.0.0/0"),
                       q(nic.gateway));
      routed = true;
    }
    std::vector<std::string> dns = spec.nameservers;
    if (dns.empty() && !nic.gateway.empty()) dns.push_back(nic.gateway);
    if (!dns.empty()) {
      n += "    nameservers:\n      addresses:\n";
      for (const auto& d : dns) n += fmt::format("        - {}\n", q(d));
      if (!spec.domain.empty()) n += fmt::format("      search:\n        - {}\n", q(spec.domain));
    }
  }
  if (nics.empty()) n = "version: 2\nethernets: {}\n";
  return f;
}

Status writeSeedIso(const SeedFiles& files, const std::string& dir, const std::string& isoPath) {
  (void)removeAll(dir);
  PADDOCK_TRY(makeDirs(dir, 0750));
  PADDOCK_TRY(writeFileAtomic(dir + "/meta-data", files.metaData));
  PADDOCK_TRY(writeFileAtomic(dir + "/user-data", files.userData));
  PADDOCK_TRY(writeFileAtomic(dir + "/network-config", files.networkConfig));
  std::string tmp = isoPath + ".tmp";
  auto out = runCommand({"genisoimage", "-quiet", "-output", tmp, "-volid", "cidata", "-joliet",
                         "-rock", dir + "/meta-data", dir + "/user-data", dir + "/network-config"});
  if (!out) return out.error();
  if (out->exitCode != 0) {
    unlink(tmp.c_str());
    return makeError(Errc::internal, fmt::format("genisoimage failed: {}", out->err));
  }
  if (::rename(tmp.c_str(), isoPath.c_str()) != 0)
    return makeError(Errc::internal, fmt::format("cannot move the seed into {}", isoPath));
  return {};
}

}  // namespace paddock
