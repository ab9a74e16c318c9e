#include "services/customization/customization_service.h"

#include <fmt/format.h>

#include "common/clock.h"
#include "common/names.h"
#include "directory_file/customization_file.h"
#include "model/network_spec.h"
#include "services/customization/cloud_init_seed.h"

namespace paddock {

Result<CustomizationRecord> CustomizationService::parse(const std::string& name,
                                                        const std::string& description,
                                                        const std::string& yaml) {
  if (auto s = validateName(name, "customization name"); !s)
    return makeError(Errc::invalid_argument, s.error().message, "name");
  if (description.size() > 1024)
    return makeError(Errc::invalid_argument, "description is longer than 1024 characters",
                     "description");
  if (yaml.size() > 256 * 1024)
    return makeError(Errc::invalid_argument, "the spec is larger than 256 KiB", "yaml");
  auto spec = parseCustomizationYaml(yaml, name);
  if (!spec) return Error{spec.error().code, spec.error().message, "yaml"};
  CustomizationRecord r;
  r.name = name;
  r.description = description;
  r.yaml = yaml;
  r.spec = std::move(*spec);
  r.createdAtMs = nowMs();
  return r;
}

Result<CustomizationRecord> CustomizationService::create(const std::string& name,
                                                         const std::string& description,
                                                         const std::string& yaml) {
  PADDOCK_TRY_ASSIGN(auto r, parse(name, description, yaml));
  if (auto s = store_.createObject(kCustomizationKind, name, toJson(r)); !s) {
    if (s.error().code == Errc::conflict)
      return makeError(Errc::conflict, fmt::format("customization '{}' already exists", name),
                       "name");
    return s.error();
  }
  events_.publish("customization.created", "customization/" + name, nlohmann::json::object());
  return r;
}

Result<CustomizationRecord> CustomizationService::replace(const std::string& name,
                                                          const std::string& description,
                                                          const std::string& yaml) {
  PADDOCK_TRY_ASSIGN(auto old, get(name));
  PADDOCK_TRY_ASSIGN(auto r, parse(name, description, yaml));
  r.createdAtMs = old.createdAtMs;
  PADDOCK_TRY(store_.updateObject(kCustomizationKind, name, toJson(r)));
  events_.publish("customization.updated", "customization/" + name, nlohmann::json::object());
  return r;
}

Result<std::vector<CustomizationRecord>> CustomizationService::list() {
  PADDOCK_TRY_ASSIGN(auto docs, store_.listObjects(kCustomizationKind));
  std::vector<CustomizationRecord> out;
  for (const auto& d : docs) {
    PADDOCK_TRY_ASSIGN(auto r, customizationFromJson(d));
    out.push_back(std::move(r));
  }
  return out;
}

Result<CustomizationRecord> CustomizationService::get(const std::string& name) {
  auto doc = store_.getObject(kCustomizationKind, name);
  if (!doc) {
    if (doc.error().code == Errc::not_found)
      return makeError(Errc::not_found, fmt::format("customization '{}' does not exist", name));
    return doc.error();
  }
  return customizationFromJson(*doc);
}

Result<std::vector<std::string>> CustomizationService::usedBy(const std::string& name) {
  PADDOCK_TRY_ASSIGN(auto vms, store_.listVms());
  std::vector<std::string> out;
  for (const auto& vm : vms)
    if (vm.spec.customization == name) out.push_back(vm.spec.name);
  return out;
}

Status CustomizationService::remove(const std::string& name) {
  PADDOCK_TRY(get(name));
  PADDOCK_TRY_ASSIGN(auto users, usedBy(name));
  if (!users.empty()) {
    std::string list;
    for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
    return makeError(Errc::conflict, fmt::format("customization '{}' is used by {} VM(s) ({}): "
                                                 "change or delete them first",
                                                 name, users.size(), list));
  }
  PADDOCK_TRY(store_.deleteObject(kCustomizationKind, name));
  events_.publish("customization.deleted", "customization/" + name, nlohmann::json::object());
  return {};
}

Status CustomizationService::check(const VmSpec& spec) {
  if (spec.customization.empty()) return {};
  auto r = get(spec.customization);
  if (!r) return Error{r.error().code, r.error().message, "customization"};
  for (size_t i = 0; i < spec.nics.size() && i < r->spec.nics.size(); ++i)
    if (r->spec.nics[i] == NicConfigMode::static_ip && spec.nics[i].ip.empty())
      return makeError(Errc::invalid_argument,
                       fmt::format("customization '{}' makes NIC {} static, but the NIC has no IP "
                                   "(give it ip=auto or ip=A.B.C.D)",
                                   spec.customization, i),
                       fmt::format("nics[{}].ip", i));
  return {};
}

Result<std::string> CustomizationService::seed(const VmSpec& spec, const std::string& runDir) {
  if (spec.customization.empty()) return std::string();
  PADDOCK_TRY(check(spec));
  PADDOCK_TRY_ASSIGN(auto r, get(spec.customization));
  std::vector<SeedNic> nics;
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    const auto& nic = spec.nics[i];
    SeedNic s{nic.mac, i < r.spec.nics.size() ? r.spec.nics[i] : NicConfigMode::dhcp, "", ""};
    if (s.mode == NicConfigMode::static_ip) {
      PADDOCK_TRY_ASSIGN(auto network, store_.getNetwork(nic.network));
      PADDOCK_TRY_ASSIGN(auto net, parseCidr(network.subnet));
      s.address = fmt::format("{}/{}", nic.ip, net.prefix);
      s.gateway = formatIpv4(net.first());
    }
    nics.push_back(std::move(s));
  }
  std::string iso = runDir + "/cidata.iso";
  PADDOCK_TRY(writeSeedIso(renderSeed(r.spec, spec.name, nics), runDir + "/cidata", iso));
  return iso;
}

}  // namespace paddock
