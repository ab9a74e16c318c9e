#include "directory_file/apply_request.h"

#include <map>
#include <set>

#include <fmt/format.h>

#include "common/names.h"
#include "directory_file/network_section.h"

namespace paddock {

using nlohmann::json;

namespace {

Error fail(const std::string& field, const std::string& message) {
  return makeError(Errc::invalid_argument, message, field);
}

// The directory label of a spec from the request: added when missing, refused when foreign.
Status ownLabel(std::map<std::string, std::string>& labels, const std::string& directory,
                const std::string& where, const std::string& labelsField) {
  auto label = labels.find(kDirectoryLabel);
  if (label == labels.end()) {
    labels[kDirectoryLabel] = directory;
  } else if (label->second != directory) {
    return fail(labelsField + "." + kDirectoryLabel,
                fmt::format("{}: label {} is '{}' but the directory is '{}'", where,
                            kDirectoryLabel, label->second, directory));
  }
  return {};
}

Result<std::vector<DesiredNetwork>> networksFromRequest(const json& networks,
                                                        const std::string& directory) {
  if (!networks.is_array()) return fail("networks", "field 'networks' must be an array");
  std::vector<DesiredNetwork> out;
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < networks.size(); ++i) {
    std::string where = fmt::format("networks[{}]", i);
    auto spec = networkSpecFromJson(networks[i]);
    if (!spec) {
      std::string field = where + (spec.error().field.empty() ? "" : "." + spec.error().field);
      return fail(field, fmt::format("{}: {}", where, spec.error().message));
    }
    if (auto s = validateDesiredNetwork(*spec); !s)
      return fail(where + "." + s.error().field, fmt::format("{}: {}", where, s.error().message));
    PADDOCK_TRY(ownLabel(spec->labels, directory, where, where + ".labels"));
    if (auto [pos, inserted] = seen.emplace(spec->name, i); !inserted)
      return fail(where + ".name", fmt::format("network '{}' appears twice (networks[{}] and {})",
                                               spec->name, pos->second, where));
    DesiredNetwork network;
    network.spec = std::move(*spec);
    out.push_back(std::move(network));
  }
  return out;
}

Result<DesiredVm> vmFromRequest(const json& item, const std::string& where,
                                const std::string& directory) {
  if (!item.is_object()) return fail(where, fmt::format("{} must be an object", where));
  for (auto it = item.begin(); it != item.end(); ++it)
    if (it.key() != "spec" && it.key() != "state" && it.key() != "fields_set")
      return fail(where + "." + it.key(), fmt::format("unknown field '{}.{}'", where, it.key()));
  if (!item.contains("spec"))
    return fail(where + ".spec", fmt::format("{}.spec is required", where));
  auto spec = vmSpecFromJson(item["spec"]);
  if (!spec) {
    std::string field =
        where + ".spec" + (spec.error().field.empty() ? "" : "." + spec.error().field);
    return fail(field, fmt::format("{}: {}", where, spec.error().message));
  }
  if (auto s = validateVmSpec(*spec, nullptr); !s)
    return fail(where + ".spec." + s.error().field,
                fmt::format("{}: {}", where, s.error().message));
  PADDOCK_TRY(ownLabel(spec->labels, directory, where, where + ".spec.labels"));
  DesiredVm vm;
  vm.spec = std::move(*spec);
  // Which fields the file set (line unknown here): a VM from a template takes the others from it.
  if (item.contains("fields_set")) {
    const json& set = item["fields_set"];
    if (!set.is_array())
      return fail(where + ".fields_set", fmt::format("{}.fields_set must be a list", where));
    for (const auto& f : set) {
      if (!f.is_string())
        return fail(where + ".fields_set", fmt::format("{}.fields_set must list names", where));
      vm.fieldLines[f.get<std::string>()] = 0;
    }
  }
  if (item.contains("state") && !item["state"].is_null()) {
    const json& st = item["state"];
    std::string name = st.is_string() ? st.get<std::string>() : "";
    if (name == "running") {
      vm.state = VmState::running;
    } else if (name == "stopped") {
      vm.state = VmState::stopped;
    } else {
      return fail(where + ".state",
                  fmt::format("{}.state must be \"running\", \"stopped\" or null", where));
    }
  }
  return vm;
}

}  // namespace

json toApplyRequest(const DirectoryFile& file, bool dryRun) {
  json networks = json::array();
  for (const auto& n : file.networks) networks.push_back(toJson(n.spec));
  json vms = json::array();
  for (const auto& vm : file.vms) {
    std::set<std::string> set;
    for (const auto& [field, line] : vm.fieldLines)
      set.insert(field.substr(0, field.find_first_of(".[")));
    vms.push_back({{"spec", toJson(vm.spec)},
                   {"state", vm.state ? json(vmStateName(*vm.state)) : json(nullptr)},
                   {"fields_set", set}});
  }
  json request = {{"directory", file.name}, {"dry_run", dryRun}, {"vms", std::move(vms)}};
  if (file.managesNetworks) request["networks"] = std::move(networks);
  return request;
}

Result<DesiredDirectory> desiredFromApplyRequest(const json& request) {
  if (!request.is_object()) return fail("", "an apply request must be a JSON object");
  for (auto it = request.begin(); it != request.end(); ++it)
    if (it.key() != "directory" && it.key() != "dry_run" && it.key() != "networks" &&
        it.key() != "vms")
      return fail(it.key(), fmt::format("unknown field '{}'", it.key()));
  if (!request.contains("directory")) return fail("directory", "field 'directory' is required");
  if (!request["directory"].is_string())
    return fail("directory", "field 'directory' must be a string");
  DesiredDirectory out;
  out.name = request["directory"].get<std::string>();
  if (auto v = validateName(out.name, "directory name"); !v)
    return fail("directory", v.error().message);
  if (request.contains("dry_run") && !request["dry_run"].is_boolean())
    return fail("dry_run", "field 'dry_run' must be a boolean");

  out.managesNetworks = request.contains("networks");
  if (request.contains("networks")) {
    auto networks = networksFromRequest(request["networks"], out.name);
    if (!networks) return networks.error();
    out.networks = std::move(*networks);
  }

  if (!request.contains("vms")) return fail("vms", "field 'vms' is required");
  const json& vms = request["vms"];
  if (!vms.is_array()) return fail("vms", "field 'vms' must be an array");
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < vms.size(); ++i) {
    std::string where = fmt::format("vms[{}]", i);
    auto vm = vmFromRequest(vms[i], where, out.name);
    if (!vm) return vm.error();
    if (auto [pos, inserted] = seen.emplace(vm->spec.name, i); !inserted)
      return fail(where + ".spec.name", fmt::format("VM '{}' appears twice (vms[{}] and {})",
                                                    vm->spec.name, pos->second, where));
    out.vms.push_back(std::move(*vm));
  }
  return out;
}

}  // namespace paddock
