#include "services/host_memory.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include "common/procfs.h"
#include "host/ksm.h"

namespace paddock {

using nlohmann::json;

namespace {

constexpr const char* kSetting = "host.ksm";

json toJson(const host::KsmSettings& s) {
  return {{"run", s.run}, {"pages_to_scan", s.pagesToScan}, {"sleep_millisecs", s.sleepMillisecs}};
}

}  // namespace

Result<json> HostMemoryService::ksm() {
  auto settings = host::readKsm();
  if (!settings) return settings.error();
  json out = toJson(*settings);
  if (auto k = ProcReader{}.ksm()) {
    out["pages_shared"] = k->pagesShared;
    out["pages_sharing"] = k->pagesSharing;
    out["saved_bytes"] = k->pagesSharing * static_cast<std::uint64_t>(getpagesize());
  }
  return out;
}

Result<json> HostMemoryService::setKsm(const json& request) {
  if (!request.is_object())
    return makeError(Errc::invalid_argument, "the KSM setting must be a JSON object");
  auto current = host::readKsm();
  if (!current) return current.error();
  host::KsmSettings s = *current;
  if (!request.contains("run") || !request["run"].is_boolean())
    return makeError(Errc::invalid_argument, "field 'run' (true or false) is required", "run");
  for (auto it = request.begin(); it != request.end(); ++it) {
    const std::string& k = it.key();
    if (k == "run") {
      s.run = it.value().get<bool>();
    } else if (k == "pages_to_scan" || k == "sleep_millisecs") {
      if (!it.value().is_number_unsigned())
        return makeError(Errc::invalid_argument, k + " must be a positive whole number", k);
      (k == "pages_to_scan" ? s.pagesToScan : s.sleepMillisecs) = it.value().get<std::uint64_t>();
    } else {
      return makeError(Errc::invalid_argument, "unknown field '" + k + "'", k);
    }
  }
  PADDOCK_TRY(host::applyKsm(s));
  PADDOCK_TRY(store_.setSetting(kSetting, toJson(s).dump()));
  return ksm();
}

void HostMemoryService::restore() {
  auto stored = store_.getSetting(kSetting);
  if (!stored || !*stored) return;
  auto j = json::parse(**stored, nullptr, false);
  if (j.is_discarded()) return;
  if (auto s = setKsm(j); !s) spdlog::warn("cannot apply the KSM setting: {}", s.error().message);
}

}  // namespace paddock
