#include "model/resource_spec.h"

#include <cmath>
#include <set>

#include <fmt/format.h>

namespace paddock {

using nlohmann::json;

namespace {

Error bad(const std::string& field, const std::string& message) {
  return makeError(Errc::invalid_argument, message, "resources." + field);
}

json diskLimitsJson(const std::map<std::string, DiskLimits>& limits) {
  json out = json::object();
  for (const auto& [disk, l] : limits)
    out[disk] = {{"read_bps", l.readBps},
                 {"write_bps", l.writeBps},
                 {"read_iops", l.readIops},
                 {"write_iops", l.writeIops}};
  return out;
}

}  // namespace

Result<ResourceSpec> resourceSpecFromJson(const json& j) {
  if (!j.is_object()) return bad("", "field 'resources' must be an object");
  ResourceSpec r;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    auto wholeNumber = [&](std::int64_t min) -> Result<std::int64_t> {
      if (!v.is_number_integer() || v.get<std::int64_t>() < min)
        return bad(k, fmt::format("{} must be a whole number of at least {}", k, min));
      return v.get<std::int64_t>();
    };
    if (k == "cpu_shares") {
      auto n = wholeNumber(0);
      if (!n) return n.error();
      if (*n > 100000) return bad(k, "cpu_shares must be at most 100000");
      r.cpuShares = static_cast<int>(*n);
    } else if (k == "cpu_limit") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
        return bad(k, "cpu_limit must be a number of host CPUs, e.g. 0.25");
      r.cpuLimit = v.get<double>();
    } else if (k == "cpus") {
      if (!v.is_array()) return bad(k, "cpus must be an array of host CPU numbers");
      std::set<int> seen;
      for (const auto& c : v) {
        if (!c.is_number_integer() || c.get<std::int64_t>() < 0 || c.get<std::int64_t>() > 4095)
          return bad(k, "cpus must hold host CPU numbers (0, 1, ...)");
        if (!seen.insert(c.get<int>()).second)
          return bad(k, fmt::format("CPU {} is listed twice", c.get<int>()));
        r.cpus.push_back(c.get<int>());
      }
    } else if (k == "dedicate") {
      if (!v.is_boolean()) return bad(k, "dedicate must be true or false");
      r.dedicate = v.get<bool>();
    } else if (k == "latency") {
      if (!v.is_string() || (v != "normal" && v != "high"))
        return bad(k, "latency must be normal or high");
      r.latencyHigh = v == "high";
    } else if (k == "memory_limit_mib") {
      auto n = wholeNumber(0);
      if (!n) return n.error();
      r.memoryLimitMib = static_cast<std::uint64_t>(*n);
    } else if (k == "disk_limits") {
      if (!v.is_object()) return bad(k, "disk_limits must map disk names to limits");
      for (auto d = v.begin(); d != v.end(); ++d) {
        std::string where = "disk_limits." + d.key();
        if (!d.value().is_object()) return bad(where, fmt::format("{} must be an object", where));
        DiskLimits l;
        for (auto f = d.value().begin(); f != d.value().end(); ++f) {
          std::uint64_t* target = f.key() == "read_bps"     ? &l.readBps
                                  : f.key() == "write_bps"  ? &l.writeBps
                                  : f.key() == "read_iops"  ? &l.readIops
                                  : f.key() == "write_iops" ? &l.writeIops
                                                            : nullptr;
          std::string field = where + "." + f.key();
          if (!target) return bad(field, fmt::format("unknown field 'resources.{}'", field));
          if (!f.value().is_number_integer() || f.value().get<std::int64_t>() < 0)
            return bad(field, fmt::format("{} must be a whole number of at least 0", f.key()));
          *target = f.value().get<std::uint64_t>();
        }
        r.diskLimits[d.key()] = l;
      }
    } else if (k == "balloon_mib") {
      auto n = wholeNumber(0);
      if (!n) return n.error();
      r.balloonMib = static_cast<std::uint64_t>(*n);
    } else {
      return bad(k, fmt::format("unknown field 'resources.{}'", k));
    }
  }
  return r;
}

json toJson(const ResourceSpec& r) {
  return {{"cpu_shares", r.cpuShares},
          {"cpu_limit", r.cpuLimit},
          {"cpus", r.cpus},
          {"dedicate", r.dedicate},
          {"latency", r.latencyHigh ? "high" : "normal"},
          {"memory_limit_mib", r.memoryLimitMib},
          {"balloon_mib", r.balloonMib},
          {"disk_limits", diskLimitsJson(r.diskLimits)}};
}

Status validateResources(const ResourceSpec& r, std::uint64_t memoryMib, int hostCpus) {
  if (r.cpuLimit != 0 && r.cpuLimit < 0.01)
    return bad("cpu_limit", "cpu_limit must be at least 0.01 (1 % of a CPU), or 0 for none");
  if (hostCpus > 0 && r.cpuLimit > hostCpus)
    return bad("cpu_limit",
               fmt::format("cpu_limit {} is more than the host's {} CPUs", r.cpuLimit, hostCpus));
  for (int c : r.cpus)
    if (hostCpus > 0 && c >= hostCpus)
      return bad("cpus",
                 fmt::format("CPU {} does not exist (the host has CPUs 0-{})", c, hostCpus - 1));
  if (r.dedicate && r.cpus.empty())
    return bad("dedicate", "dedicate needs the CPUs to dedicate (cpus)");
  if (r.balloonMib != 0 && r.balloonMib > memoryMib)
    return bad("balloon_mib", fmt::format("balloon target {}M is above the VM's memory {}M",
                                          r.balloonMib, memoryMib));
  if (r.balloonMib != 0 && r.balloonMib < 16)
    return bad("balloon_mib", "balloon target must be at least 16M, or 0 for all of the memory");
  if (r.memoryLimitMib != 0 && r.memoryLimitMib < memoryMib)
    return bad("memory_limit_mib",
               fmt::format("memory limit {}M is below the VM's memory {}M: QEMU would be "
                           "killed when the guest uses it",
                           r.memoryLimitMib, memoryMib));
  return {};
}

}  // namespace paddock
