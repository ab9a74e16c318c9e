#include "model/customization_spec.h"

#include "common/clock.h"

namespace paddock {

using nlohmann::json;

const char* nicConfigModeName(NicConfigMode m) {
  switch (m) {
    case NicConfigMode::dhcp:
      return "dhcp";
    case NicConfigMode::static_ip:
      return "static";
    case NicConfigMode::none:
      return "none";
  }
  return "dhcp";
}

std::string customizedHostname(const CustomizationSpec& spec, const std::string& vmName) {
  if (spec.hostname.empty()) return vmName;
  std::string out = spec.hostname;
  for (size_t pos; (pos = out.find("{name}")) != std::string::npos;) out.replace(pos, 6, vmName);
  return out;
}

json toJson(const CustomizationSpec& spec) {
  json users = json::array();
  for (const auto& u : spec.users)
    users.push_back({{"name", u.name},
                     {"ssh_authorized_keys", u.sshAuthorizedKeys},
                     {"sudo", u.sudo},
                     {"shell", u.shell}});
  json nics = json::array();
  for (auto m : spec.nics) nics.push_back({{"mode", nicConfigModeName(m)}});
  return {
      {"hostname", spec.hostname},       {"domain", spec.domain}, {"users", users}, {"nics", nics},
      {"nameservers", spec.nameservers}, {"runcmd", spec.runcmd}};
}

json toJson(const CustomizationRecord& r) {
  return {{"name", r.name},
          {"description", r.description},
          {"yaml", r.yaml},
          {"spec", toJson(r.spec)},
          {"created_at_ms", r.createdAtMs},
          {"created_at", formatTimeMs(r.createdAtMs)}};
}

Result<CustomizationRecord> customizationFromJson(const json& j) {
  auto bad = [](const std::string& what) {
    return makeError(Errc::internal, "stored customization is malformed: " + what);
  };
  try {
    CustomizationRecord r;
    r.name = j.at("name").get<std::string>();
    r.description = j.value("description", "");
    r.yaml = j.value("yaml", "");
    r.createdAtMs = j.value("created_at_ms", int64_t{0});
    const json& s = j.at("spec");
    r.spec.hostname = s.value("hostname", "");
    r.spec.domain = s.value("domain", "");
    for (const auto& u : s.value("users", json::array()))
      r.spec.users.push_back({u.at("name").get<std::string>(),
                              u.value("ssh_authorized_keys", std::vector<std::string>{}),
                              u.value("sudo", false), u.value("shell", "")});
    for (const auto& n : s.value("nics", json::array())) {
      std::string mode = n.value("mode", "dhcp");
      r.spec.nics.push_back(mode == "static" ? NicConfigMode::static_ip
                            : mode == "none" ? NicConfigMode::none
                                             : NicConfigMode::dhcp);
    }
    r.spec.nameservers = s.value("nameservers", std::vector<std::string>{});
    r.spec.runcmd = s.value("runcmd", std::vector<std::string>{});
    return r;
  } catch (const json::exception& e) {
    return bad(e.what());
  }
}

}  // namespace paddock
