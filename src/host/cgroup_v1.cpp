// Cgroups on cgroup v1: the same group tree in the cpu, cpuacct, cpuset and memory hierarchies,
// and in blkio where it is mounted (only I/O weights need it, so hosts without it still work).
// Sub-groups for single threads exist only where threads matter (cpu, cpuset); v1 lets any thread
// join any group by writing its id to that group's `tasks`.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <optional>
#include <set>

#include "host/cgroup_fs.h"
#include "host/cgroup_values.h"
#include "host/cgroups.h"

namespace paddock::host {

namespace {

constexpr const char* kCpusetCpus = "cpuset.cpus";
constexpr const char* kEffectiveCpus = "cpuset.effective_cpus";

class CgroupV1 final : public Cgroups {
 public:
  CgroupV1(std::string root, CgroupFs cpu, CgroupFs cpuacct, CgroupFs cpuset, CgroupFs memory,
           std::optional<CgroupFs> blkio)
      : root_(std::move(root)),
        cpu_(std::move(cpu)),
        cpuacct_(std::move(cpuacct)),
        cpuset_(std::move(cpuset)),
        memory_(std::move(memory)),
        blkio_(std::move(blkio)) {}

  std::string version() const override { return "v1"; }
  const std::string& rootName() const override { return root_; }

  Status ensureGroup(const std::string& vm) override {
    PADDOCK_TRY(validateGroupName(vm, "vm"));
    auto levels = pathPrefixes(root_);
    levels.push_back(vmRel(vm));
    for (const auto& rel : levels)
      for (const CgroupFs* h : hierarchies()) PADDOCK_TRY(makeGroupIn(*h, rel));
    return {};
  }

  Status setCpu(const std::string& vm, const CpuLimits& limits) override {
    PADDOCK_TRY(requireGroup(vm));
    auto available = effectiveCpus(cpuset_, root_, kEffectiveCpus);
    if (!available) return available.error();
    PADDOCK_TRY(validateCpuLimits(limits, *available));
    return applyCpu(vmRel(vm), limits);
  }

  Status setMemory(const std::string& vm, const MemoryLimits& limits) override {
    PADDOCK_TRY(requireGroup(vm));
    PADDOCK_TRY(validateMemoryLimits(limits));
    std::string value = limits.limitBytes == 0 ? "-1" : std::to_string(limits.limitBytes);
    return withHint(memory_.write(vmRel(vm), "memory.limit_in_bytes", value, "memory"),
                    Errc::conflict, "the VM uses more memory than that now");
  }

  Status setIo(const std::string& vm, const IoLimits& limits) override {
    PADDOCK_TRY(requireGroup(vm));
    auto weight = bfqWeight(limits);
    if (!weight) return weight.error();
    if (!blkio_ || !blkio_->isDir(vmRel(vm)))
      return makeError(Errc::unavailable, "no blkio cgroup hierarchy is mounted for I/O weights",
                       "weight");
    if (!blkio_->hasFile(vmRel(vm), "blkio.bfq.weight"))
      return makeError(Errc::unavailable,
                       "the kernel offers no BFQ I/O weights (blkio.bfq.weight): is the bfq "
                       "scheduler loaded?",
                       "weight");
    return blkio_->write(vmRel(vm), "blkio.bfq.weight", std::to_string(*weight), "weight");
  }

  Status addProcess(const std::string& vm, pid_t pid) override {
    PADDOCK_TRY(requireGroup(vm));
    if (pid <= 0)
      return makeError(Errc::invalid_argument, fmt::format("invalid pid {}", pid), "pid");
    for (const CgroupFs* h : hierarchies())
      PADDOCK_TRY(h->write(vmRel(vm), "cgroup.procs", std::to_string(pid), "pid"));
    return {};
  }

  Status addThread(const std::string& vm, const std::string& sub, pid_t tid,
                   const CpuLimits& limits) override {
    PADDOCK_TRY(requireGroup(vm));
    PADDOCK_TRY(validateGroupName(sub, "sub"));
    if (tid <= 0)
      return makeError(Errc::invalid_argument, fmt::format("invalid thread id {}", tid), "tid");
    auto available = effectiveCpus(cpuset_, vmRel(vm), kEffectiveCpus);
    if (!available) return available.error();
    PADDOCK_TRY(validateCpuLimits(limits, *available));
    std::string rel = joinRel(vmRel(vm), sub);
    PADDOCK_TRY(makeGroupIn(cpu_, rel));
    PADDOCK_TRY(makeGroupIn(cpuset_, rel));
    PADDOCK_TRY(applyCpu(rel, limits));
    PADDOCK_TRY(cpu_.write(rel, "tasks", std::to_string(tid), "tid"));
    return cpuset_.write(rel, "tasks", std::to_string(tid), "tid");
  }

  Result<CgroupUsage> usage(const std::string& vm) override {
    PADDOCK_TRY(requireGroup(vm));
    std::string rel = vmRel(vm);
    CgroupUsage u;
    auto cpu = cpuacct_.read(rel, "cpuacct.usage");
    if (!cpu) return cpu.error();
    u.cpuNs = counterValue(*cpu);
    std::vector<std::string> groups{rel};
    for (const auto& sub : cpu_.childGroups(rel)) groups.push_back(joinRel(rel, sub));
    for (const auto& g : groups) {
      auto stat = cpu_.read(g, "cpu.stat");
      if (!stat) return stat.error();
      u.throttledNs += statValue(*stat, "throttled_time");
    }
    auto mem = memory_.read(rel, "memory.usage_in_bytes");
    if (!mem) return mem.error();
    u.memoryBytes = counterValue(*mem);
    return u;
  }

  Status removeGroup(const std::string& vm) override {
    PADDOCK_TRY(validateGroupName(vm, "vm"));
    std::string rel = vmRel(vm);
    std::set<pid_t> tasks;
    for (const CgroupFs* h : hierarchies()) {
      if (!h->isDir(rel)) continue;
      for (pid_t t : h->ids(rel, "tasks")) tasks.insert(t);
      for (const auto& sub : h->childGroups(rel))
        for (pid_t t : h->ids(joinRel(rel, sub), "tasks")) tasks.insert(t);
    }
    if (!tasks.empty())
      return makeError(Errc::conflict,
                       fmt::format("cgroup of VM {} still holds tasks {}; stop them first", vm,
                                   joinIds({tasks.begin(), tasks.end()})));
    for (const CgroupFs* h : hierarchies()) {
      for (const auto& sub : h->childGroups(rel)) PADDOCK_TRY(h->removeGroup(joinRel(rel, sub)));
      PADDOCK_TRY(h->removeGroup(rel));
    }
    return {};
  }

  std::vector<std::string> listGroups() override {
    std::set<std::string> names;
    for (const CgroupFs* h : hierarchies())
      for (const auto& name : h->childGroups(root_)) names.insert(name);
    return {names.begin(), names.end()};
  }

  Status removeRoot() override {
    auto left = listGroups();
    if (!left.empty())
      return makeError(Errc::conflict, fmt::format("cgroup root {} still holds VM groups: {}",
                                                   root_, fmt::join(left, ", ")));
    for (const CgroupFs* h : hierarchies()) PADDOCK_TRY(h->removeGroup(root_));
    return {};
  }

 private:
  // Every hierarchy the tree lives in; requireGroup checks only the four that must be there
  // (groups made before blkio was used have no blkio part until ensureGroup runs again).
  std::vector<const CgroupFs*> hierarchies() const {
    std::vector<const CgroupFs*> all{&cpu_, &cpuacct_, &cpuset_, &memory_};
    if (blkio_) all.push_back(&*blkio_);
    return all;
  }

  std::string vmRel(const std::string& vm) const { return joinRel(root_, vm); }

  Status requireGroup(const std::string& vm) const {
    PADDOCK_TRY(validateGroupName(vm, "vm"));
    for (const CgroupFs* h : {&cpu_, &cpuacct_, &cpuset_, &memory_})
      if (!h->isDir(vmRel(vm)))
        return makeError(
            Errc::not_found,
            fmt::format("no cgroup for VM {} in {} (ensureGroup first)", vm, h->mount()), "vm");
    return {};
  }

  // A new cpuset has no CPUs and no memory nodes, and no task can join it until it has both:
  // start it with its parent's.
  Status makeGroupIn(const CgroupFs& h, const std::string& rel) const {
    auto created = h.makeGroup(rel);
    if (!created) return created.error();
    if (&h != &cpuset_) return {};
    for (const char* file : {kCpusetCpus, "cpuset.mems"}) {
      auto own = h.read(rel, file);
      if (!own) return own.error();
      if (!own->empty()) continue;
      auto parent = h.read(parentOf(rel), file);
      if (!parent) return parent.error();
      PADDOCK_TRY(h.write(rel, file, *parent));
    }
    return {};
  }

  Status applyCpu(const std::string& rel, const CpuLimits& limits) const {
    PADDOCK_TRY(cpu_.write(rel, "cpu.shares", std::to_string(v1CpuShares(limits.shares))));
    PADDOCK_TRY(applyBandwidth(rel, bandwidthFor(limits)));
    std::string cpus;
    if (limits.cpus.empty()) {
      auto parent = cpuset_.read(parentOf(rel), kCpusetCpus);
      if (!parent) return parent.error();
      cpus = *parent;
    } else {
      cpus = formatCpuList({limits.cpus.begin(), limits.cpus.end()});
    }
    auto st = cpuset_.write(rel, kCpusetCpus, cpus, "cpus");
    st = withHint(std::move(st), Errc::invalid_argument,
                  "a sub-group's CPUs must be among its VM group's");
    return withHint(std::move(st), Errc::conflict,
                    "a sub-group still uses CPUs outside this set; change the sub-groups first");
  }

  // v1 checks every write against the hierarchy (a group's cap may not exceed its parent's), so
  // the period changes only while the group is uncapped, and an unchanged period is left alone
  // so that re-applying the same limits never lifts the cap for a moment.
  Status applyBandwidth(const std::string& rel, const Bandwidth& b) const {
    auto period = cpu_.read(rel, "cpu.cfs_period_us");
    if (!period) return period.error();
    if (counterValue(*period) != static_cast<uint64_t>(b.periodUs)) {
      PADDOCK_TRY(cpu_.write(rel, "cpu.cfs_quota_us", "-1", "limit"));
      PADDOCK_TRY(cpu_.write(rel, "cpu.cfs_period_us", std::to_string(b.periodUs), "limit"));
    }
    std::string quota = b.quotaUs == 0 ? "-1" : std::to_string(b.quotaUs);
    return withHint(cpu_.write(rel, "cpu.cfs_quota_us", quota, "limit"), Errc::invalid_argument,
                    "cgroup v1 requires a sub-group's CPU limit to be at most its VM group's");
  }

  std::string root_;
  CgroupFs cpu_, cpuacct_, cpuset_, memory_;
  std::optional<CgroupFs> blkio_;
};

}  // namespace

Result<std::unique_ptr<Cgroups>> makeCgroupV1(const std::string& rootName,
                                              const std::string& mountRoot) {
  PADDOCK_TRY(validateRootName(rootName));
  // Each hierarchy is recognised by a file only its controller provides.
  const std::pair<const char*, const char*> controllers[] = {{"cpu", "cpu.shares"},
                                                             {"cpuacct", "cpuacct.usage"},
                                                             {"cpuset", kCpusetCpus},
                                                             {"memory", "memory.limit_in_bytes"}};
  std::vector<CgroupFs> mounts;
  std::vector<std::string> missing;
  for (const auto& [name, marker] : controllers) {
    CgroupFs fs(mountRoot + "/" + name);
    if (!fs.hasFile("", marker)) missing.push_back(name);
    mounts.push_back(std::move(fs));
  }
  if (!missing.empty())
    return makeError(Errc::unavailable,
                     fmt::format("cgroup v1 controllers not mounted under {}: {}", mountRoot,
                                 fmt::join(missing, ", ")));
  std::optional<CgroupFs> blkio;
  if (CgroupFs fs(mountRoot + "/blkio"); fs.hasFile("", "blkio.reset_stats")) blkio = std::move(fs);
  return std::unique_ptr<Cgroups>(
      std::make_unique<CgroupV1>(rootName, std::move(mounts[0]), std::move(mounts[1]),
                                 std::move(mounts[2]), std::move(mounts[3]), std::move(blkio)));
}

}  // namespace paddock::host
