#include "model/template_spec.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/clock.h"

namespace paddock {

using nlohmann::json;

json toJson(const TemplateRecord& t) {
  return {{"name", t.name},
          {"description", t.description},
          {"source_vm", t.sourceVm},
          {"vm", toJson(t.vm)},
          {"created_at_ms", t.createdAtMs},
          {"created_at", formatTimeMs(t.createdAtMs)}};
}

Result<TemplateRecord> templateFromJson(const json& j) {
  auto bad = [](const std::string& what) {
    return makeError(Errc::internal, "stored template is malformed: " + what);
  };
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return bad("no name");
  TemplateRecord t;
  t.name = j["name"].get<std::string>();
  t.description = j.value("description", "");
  t.sourceVm = j.value("source_vm", "");
  t.createdAtMs = j.value("created_at_ms", int64_t{0});
  auto vm = vmSpecFromJson(j.value("vm", json::object()));
  if (!vm) return bad(vm.error().message);
  t.vm = std::move(*vm);
  return t;
}

Status applyDeployOverrides(VmSpec& spec, const json& overrides) {
  if (!overrides.is_object())
    return makeError(Errc::invalid_argument, "overrides must be a JSON object", "overrides");
  for (auto it = overrides.begin(); it != overrides.end(); ++it) {
    static const char* const kAllowed[] = {"vcpus",     "memory_mib",  "nics",
                                           "cmdline",   "description", "labels",
                                           "resources", "accel",       "customization"};
    if (std::find(std::begin(kAllowed), std::end(kAllowed), it.key()) == std::end(kAllowed))
      return makeError(Errc::invalid_argument,
                       fmt::format("'{}' cannot be changed when deploying from a template "
                                   "(allowed: vcpus, memory_mib, nics, cmdline, description, "
                                   "labels, resources, accel, customization)",
                                   it.key()),
                       it.key());
  }
  return applyVmPatch(spec, overrides);
}

}  // namespace paddock
