#include "host/cgroup_values.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

namespace paddock::host {

namespace {

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::optional<int> parseCpu(const std::string& text) {
  if (text.empty() || text.size() > 6) return std::nullopt;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

Status validateGroupName(const std::string& name, const std::string& field) {
  if (name.empty() || name.size() > 64 || !std::all_of(name.begin(), name.end(), isNameChar))
    return makeError(
        Errc::invalid_argument,
        fmt::format("{} '{}' is not a valid cgroup name (1-64 of A-Z a-z 0-9 _ -)", field, name),
        field);
  return {};
}

Status validateRootName(const std::string& rootName) {
  auto bad = [&](const std::string& why) {
    return makeError(Errc::invalid_argument,
                     fmt::format("cgroup root '{}' is not valid: {}", rootName, why), "root");
  };
  if (rootName.empty()) return bad("it is empty");
  std::istringstream in(rootName);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (part.empty()) return bad("empty path component");
    if (part.front() == '.') return bad("a component starts with '.'");
    for (char c : part)
      if (!isNameChar(c) && c != '.' && c != '@') return bad(fmt::format("it contains '{}'", c));
  }
  if (rootName.back() == '/') return bad("it ends with '/'");
  return {};
}

std::optional<std::set<int>> parseCpuList(const std::string& text) {
  std::set<int> out;
  std::string trimmed = text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.pop_back();
  if (trimmed.empty()) return out;
  std::istringstream in(trimmed);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto dash = item.find('-');
    auto lo = parseCpu(item.substr(0, dash));
    auto hi = dash == std::string::npos ? lo : parseCpu(item.substr(dash + 1));
    if (!lo || !hi || *hi < *lo) return std::nullopt;
    for (int c = *lo; c <= *hi; ++c) out.insert(c);
  }
  return out;
}

std::string formatCpuList(const std::set<int>& cpus) {
  std::string out;
  for (auto it = cpus.begin(); it != cpus.end();) {
    int lo = *it, hi = lo;
    for (++it; it != cpus.end() && *it == hi + 1; ++it) hi = *it;
    if (!out.empty()) out += ',';
    out += lo == hi ? fmt::format("{}", lo) : fmt::format("{}-{}", lo, hi);
  }
  return out;
}

Result<std::set<int>> effectiveCpus(const CgroupFs& cpuset, const std::string& rel,
                                    const std::string& file) {
  for (std::string r = rel;; r = parentOf(r)) {
    if (cpuset.hasFile(r, file) || r.empty()) {
      auto text = cpuset.read(r, file);
      if (!text) return text.error();
      auto cpus = parseCpuList(*text);
      if (!cpus)
        return makeError(Errc::internal, fmt::format("cannot parse CPU list '{}' in {}", *text,
                                                     cpuset.path(r, file)));
      if (!cpus->empty()) return *cpus;
    }
    if (r.empty())
      return makeError(Errc::unavailable,
                       fmt::format("no CPUs listed in {} or above", cpuset.path(rel, file)));
  }
}

Status validateCpuLimits(const CpuLimits& limits, const std::set<int>& available) {
  if (limits.shares < 0 || limits.shares > kMaxShares)
    return makeError(Errc::invalid_argument,
                     fmt::format("shares {} out of range: 1 to {} (0: the default, {})",
                                 limits.shares, kMaxShares, kDefaultShares),
                     "shares");
  double limit = limits.limitCpus;
  size_t hostCpus = available.size();
  if (!std::isfinite(limit) || limit < 0 || (limit > 0 && limit < kMinLimitCpus))
    return makeError(Errc::invalid_argument,
                     fmt::format("CPU limit {} out of range: at least {} CPUs (0: no limit)", limit,
                                 kMinLimitCpus),
                     "limit");
  if (limit > static_cast<double>(hostCpus))
    return makeError(Errc::invalid_argument,
                     fmt::format("CPU limit {} exceeds the {} CPUs available ({})", limit, hostCpus,
                                 formatCpuList(available)),
                     "limit");
  std::vector<pid_t> missing;
  for (int cpu : limits.cpus)
    if (!available.count(cpu)) missing.push_back(cpu);
  if (!missing.empty())
    return makeError(Errc::invalid_argument,
                     fmt::format("CPUs not available: {} (available: {})", joinIds(missing),
                                 formatCpuList(available)),
                     "cpus");
  return {};
}

int64_t v1CpuShares(int shares) {
  if (shares == 0) shares = kDefaultShares;
  return std::max<int64_t>(2, (int64_t{shares} * 1024 + 500) / 1000);
}

int64_t v2CpuWeight(int shares) {
  if (shares == 0) shares = kDefaultShares;
  return std::clamp<int64_t>((int64_t{shares} + 5) / 10, 1, 10000);
}

Bandwidth bandwidthFor(const CpuLimits& limits) {
  Bandwidth b;
  if (limits.limitCpus <= 0) return b;
  if (limits.latencyHigh) {
    // The shortest period that still leaves the kernel's minimum quota of 1 ms.
    auto needed = static_cast<int64_t>(std::ceil(1000.0 / limits.limitCpus));
    b.periodUs = std::clamp<int64_t>(needed, kLatencyCpuPeriodUs, kCpuPeriodUs);
  }
  b.quotaUs =
      std::max<int64_t>(1000, std::llround(limits.limitCpus * static_cast<double>(b.periodUs)));
  return b;
}

uint64_t statValue(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

uint64_t counterValue(const std::string& text) {
  try {
    return std::stoull(text);
  } catch (...) {
    return 0;
  }
}

std::string joinIds(const std::vector<pid_t>& ids) {
  std::string out;
  for (pid_t id : ids) out += (out.empty() ? "" : ", ") + std::to_string(id);
  return out;
}

Status validateMemoryLimits(const MemoryLimits& limits) {
  if (limits.limitBytes > static_cast<uint64_t>(INT64_MAX))
    return makeError(Errc::invalid_argument,
                     fmt::format("memory limit {} bytes is too large", limits.limitBytes),
                     "memory");
  if (limits.reservedBytes > static_cast<uint64_t>(INT64_MAX) ||
      (limits.limitBytes != 0 && limits.reservedBytes > limits.limitBytes))
    return makeError(
        Errc::invalid_argument,
        fmt::format("memory reservation {} bytes is above the limit", limits.reservedBytes),
        "memory");
  return {};
}

Result<int> bfqWeight(const IoLimits& limits) {
  if (limits.weight < 0 || limits.weight > kMaxIoWeight)
    return makeError(Errc::invalid_argument,
                     fmt::format("I/O weight {} is outside 1-{}", limits.weight, kMaxIoWeight),
                     "weight");
  return limits.weight == 0 ? kDefaultIoWeight : limits.weight;
}

}  // namespace paddock::host
