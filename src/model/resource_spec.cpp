#include "model/resource_spec.h"

#include <cctype>
#include <cmath>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace paddock {

using nlohmann::json;

namespace {

constexpr double kMinCpuReservation = 0.01;

Error bad(const std::string& field, const std::string& message) {
  return makeError(Errc::invalid_argument, message, "resources." + field);
}

// The numeric fields of DiskLimits by JSON name.
std::uint64_t* diskLimitField(DiskLimits& l, const std::string& key) {
  static const std::map<std::string, std::uint64_t DiskLimits::*> fields = {
      {"read_bps", &DiskLimits::readBps},          {"write_bps", &DiskLimits::writeBps},
      {"read_iops", &DiskLimits::readIops},        {"write_iops", &DiskLimits::writeIops},
      {"read_bps_max", &DiskLimits::readBpsMax},   {"write_bps_max", &DiskLimits::writeBpsMax},
      {"read_iops_max", &DiskLimits::readIopsMax}, {"write_iops_max", &DiskLimits::writeIopsMax},
      {"burst_seconds", &DiskLimits::burstSeconds}};
  auto it = fields.find(key);
  return it == fields.end() ? nullptr : &(l.*(it->second));
}

json diskLimitsJson(const std::map<std::string, DiskLimits>& limits) {
  json out = json::object();
  for (const auto& [disk, l] : limits)
    out[disk] = {{"read_bps", l.readBps},           {"write_bps", l.writeBps},
                 {"read_iops", l.readIops},         {"write_iops", l.writeIops},
                 {"read_bps_max", l.readBpsMax},    {"write_bps_max", l.writeBpsMax},
                 {"read_iops_max", l.readIopsMax},  {"write_iops_max", l.writeIopsMax},
                 {"burst_seconds", l.burstSeconds}, {"group", l.group}};
  return out;
}

json nicLimitsJson(const std::map<std::string, NicLimits>& limits) {
  json out = json::object();
  for (const auto& [mac, l] : limits) out[mac] = {{"rx_bps", l.rxBps}, {"tx_bps", l.txBps}};
  return out;
}

bool validGroupName(const std::string& g) {
  if (g.empty() || g.size() > 32) return false;
  for (char c : g)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
      return false;
  return true;
}

Status validateDiskLimits(const std::map<std::string, DiskLimits>& limits) {
  std::map<std::string, std::pair<std::string, DiskLimits>> groups;  // group → first disk
  for (const auto& [disk, l] : limits) {
    std::string where = "disk_limits." + disk;
    for (auto [max, base, name] : {std::tuple{l.readBpsMax, l.readBps, "read_bps"},
                                   std::tuple{l.writeBpsMax, l.writeBps, "write_bps"},
                                   std::tuple{l.readIopsMax, l.readIops, "read_iops"},
                                   std::tuple{l.writeIopsMax, l.writeIops, "write_iops"}}) {
      if (max == 0) continue;
      if (base == 0 || max < base)
        return bad(where + "." + name + "_max",
                   fmt::format("{}_max is a burst above {}: set {} too, at most the burst", name,
                               name, name));
    }
    bool burst = l.readBpsMax || l.writeBpsMax || l.readIopsMax || l.writeIopsMax;
    if (l.burstSeconds != 0 && !burst)
      return bad(where + ".burst_seconds", "burst_seconds needs a burst rate (e.g. write_bps_max)");
    if (l.burstSeconds > 3600)
      return bad(where + ".burst_seconds", "burst_seconds must be at most 3600");
    if (l.group.empty()) continue;
    if (!validGroupName(l.group))
      return bad(where + ".group", "group must be 1-32 of a-z, 0-9 and -");
    DiskLimits alone = l;
    alone.group.clear();
    auto [it, fresh] = groups.try_emplace(l.group, disk, alone);
    if (!fresh && it->second.second != alone)
      return bad(where + ".group",
                 fmt::format("disks {} and {} share group '{}' but have different limits: a "
                             "group has one budget",
                             it->second.first, disk, l.group));
  }
  return {};
}

// One rate field of a limits object: `target` is null for a field that does not exist.
Status setRate(std::uint64_t* target, const std::string& key, const json& value,
               const std::string& field) {
  if (!target) return bad(field, fmt::format("unknown field 'resources.{}'", field));
  if (!value.is_number_integer() || value.get<std::int64_t>() < 0)
    return bad(field, fmt::format("{} must be a whole number of at least 0", key));
  *target = value.get<std::uint64_t>();
  return {};
}

// {"KEY": {"field": value, ...}, ...} (disk_limits, nic_limits), each field set by `setField`.
template <typename Limits, typename SetField>
Result<std::map<std::string, Limits>> limitMap(const json& v, const std::string& k,
                                               const char* keys, SetField setField) {
  if (!v.is_object()) return bad(k, fmt::format("{} must map {} to limits", k, keys));
  std::map<std::string, Limits> out;
  for (auto item = v.begin(); item != v.end(); ++item) {
    std::string where = k + "." + item.key();
    if (!item.value().is_object()) return bad(where, fmt::format("{} must be an object", where));
    Limits l;
    for (auto f = item.value().begin(); f != item.value().end(); ++f)
      PADDOCK_TRY(setField(l, f.key(), f.value(), where + "." + f.key()));
    out[item.key()] = l;
  }
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
      auto limits =
          limitMap<DiskLimits>(v, k, "disk names",
                               [](DiskLimits& l, const std::string& key, const json& value,
                                  const std::string& field) -> Status {
                                 if (key != "group")
                                   return setRate(diskLimitField(l, key), key, value, field);
                                 if (!value.is_string())
                                   return bad(field, "group must be a string");
                                 l.group = value.get<std::string>();
                                 return {};
                               });
      if (!limits) return limits.error();
      r.diskLimits = std::move(*limits);
    } else if (k == "nic_limits") {
      auto limits = limitMap<NicLimits>(
          v, k, "NIC MACs",
          [](NicLimits& l, const std::string& key, const json& value, const std::string& field) {
            std::uint64_t* target = key == "rx_bps"   ? &l.rxBps
                                    : key == "tx_bps" ? &l.txBps
                                                      : nullptr;
            return setRate(target, key, value, field);
          });
      if (!limits) return limits.error();
      r.nicLimits = std::move(*limits);
    } else if (k == "balloon_mib") {
      auto n = wholeNumber(0);
      if (!n) return n.error();
      r.balloonMib = static_cast<std::uint64_t>(*n);
    } else if (k == "cpu_reservation") {
      if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
        return bad(k, "cpu_reservation must be a number of host CPUs, e.g. 0.5");
      r.cpuReservation = v.get<double>();
    } else if (k == "memory_reservation_mib") {
      auto n = wholeNumber(0);
      if (!n) return n.error();
      r.memoryReservationMib = static_cast<std::uint64_t>(*n);
    } else if (k == "io_weight") {
      auto n = wholeNumber(0);
      if (!n) return n.error();
      if (*n > 1000) return bad(k, "io_weight must be at most 1000");
      r.ioWeight = static_cast<int>(*n);
    } else if (k == "memory_lock" || k == "page_sharing") {
      if (!v.is_boolean()) return bad(k, fmt::format("{} must be true or false", k));
      (k == "memory_lock" ? r.memoryLock : r.pageSharing) = v.get<bool>();
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
          {"disk_limits", diskLimitsJson(r.diskLimits)},
          {"nic_limits", nicLimitsJson(r.nicLimits)},
          {"cpu_reservation", r.cpuReservation},
          {"memory_reservation_mib", r.memoryReservationMib},
          {"memory_lock", r.memoryLock},
          {"page_sharing", r.pageSharing},
          {"io_weight", r.ioWeight}};
}

std::string startTimeFieldChanged(const ResourceSpec& a, const ResourceSpec& b) {
  if (a.memoryLock != b.memoryLock) return "memory_lock";
  if (a.pageSharing != b.pageSharing) return "page_sharing";
  return "";
}

Status validateResources(const ResourceSpec& r, int vcpus, std::uint64_t memoryMib, int hostCpus) {
  PADDOCK_TRY(validateDiskLimits(r.diskLimits));
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
  if (r.cpuReservation != 0 && r.cpuReservation < kMinCpuReservation)
    return bad("cpu_reservation",
               "cpu_reservation must be at least 0.01 (1 % of a CPU), or 0 for none");
  if (r.cpuReservation > vcpus)
    return bad("cpu_reservation",
               fmt::format("cpu_reservation {} is more than the VM's {} vCPU(s) can use",
                           r.cpuReservation, vcpus));
  if (r.cpuLimit != 0 && r.cpuReservation > r.cpuLimit)
    return bad("cpu_reservation", fmt::format("cpu_reservation {} is above the cpu_limit {}",
                                              r.cpuReservation, r.cpuLimit));
  if (r.memoryReservationMib > memoryMib)
    return bad("memory_reservation_mib",
               fmt::format("memory reservation {}M is above the VM's memory {}M",
                           r.memoryReservationMib, memoryMib));
  if (r.balloonMib != 0 && r.balloonMib < r.reservedMib(memoryMib))
    return bad("balloon_mib",
               fmt::format("balloon target {}M is below the VM's reserved memory {}M", r.balloonMib,
                           r.reservedMib(memoryMib)));
  return {};
}

}  // namespace paddock
