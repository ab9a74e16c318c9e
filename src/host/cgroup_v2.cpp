// Cgroups on cgroup v2 (Documentation/admin-guide/cgroup-v2.rst): one hierarchy; controllers reach
// a group only when every ancestor lists them in cgroup.subtree_control. A VM's sub-groups are
// threaded cgroups, which makes the VM's group their thread root: it keeps the process (and the
// memory limit, a domain controller) while single threads move into the sub-groups, which only
// threaded controllers (cpu, cpuset) control.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>
#include <sstream>

#include "host/cgroup_fs.h"
#include "host/cgroup_values.h"
#include "host/cgroups.h"

namespace paddock::host {

namespace {

constexpr const char* kEffectiveCpus = "cpuset.cpus.effective";
const std::vector<std::string> kVmControllers{"cpu", "cpuset", "memory"};
const std::vector<std::string> kThreadControllers{"cpu", "cpuset"};

// The names in a cgroup.controllers / cgroup.subtree_control file ("cpu io memory").
std::set<std::string> controllerNames(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  std::string name;
  while (in >> name) out.insert(name[0] == '+' ? name.substr(1) : name);
  return out;
}

class CgroupV2 final : public Cgroups {
 public:
  CgroupV2(std::string root, CgroupFs fs) : root_(std::move(root)), fs_(std::move(fs)) {}

  std::string version() const override { return "v2"; }
  const std::string& rootName() const override { return root_; }

  Status ensureGroup(const std::string& vm) override {
    PADDOCK_TRY(validateGroupName(vm, "vm"));
    PADDOCK_TRY(enableControllers("", kVmControllers));
    for (const auto& rel : pathPrefixes(root_)) {
      auto created = fs_.makeGroup(rel);
      if (!created) return created.error();
      PADDOCK_TRY(enableControllers(rel, kVmControllers));
    }
    auto created = fs_.makeGroup(vmRel(vm));
    if (!created) return created.error();
    return {};
  }

  Status setCpu(const std::string& vm, const CpuLimits& limits) override {
    PADDOCK_TRY(requireGroup(vm));
    auto available = effectiveCpus(fs_, root_, kEffectiveCpus);
    if (!available) return available.error();
    PADDOCK_TRY(validateCpuLimits(limits, *available));
    return applyCpu(vmRel(vm), limits);
  }

  Status setMemory(const std::string& vm, const MemoryLimits& limits) override {
    PADDOCK_TRY(requireGroup(vm));
    PADDOCK_TRY(validateMemoryLimits(limits));
    std::string value = limits.limitBytes == 0 ? "max" : std::to_string(limits.limitBytes);
    PADDOCK_TRY(fs_.write(vmRel(vm), "memory.max", value, "memory"));
    return fs_.write(vmRel(vm), "memory.min", std::to_string(limits.reservedBytes), "memory");
  }

  Status setIo(const std::string& vm, const IoLimits& limits) override {
    PADDOCK_TRY(requireGroup(vm));
    auto weight = bfqWeight(limits);
    if (!weight) return weight.error();
    // The io controller is enabled down to the VM's group only when a weight is first set.
    if (!fs_.hasFile(vmRel(vm), "io.bfq.weight")) {
      auto offered = fs_.read("", "cgroup.controllers");
      if (!offered || !controllerNames(*offered).count("io"))
        return makeError(Errc::unavailable, "cgroup v2 does not offer the io controller", "weight");
      PADDOCK_TRY(enableControllers("", {"io"}));
      for (const auto& rel : pathPrefixes(root_)) PADDOCK_TRY(enableControllers(rel, {"io"}));
    }
    if (!fs_.hasFile(vmRel(vm), "io.bfq.weight"))
      return makeError(Errc::unavailable,
                       "the kernel offers no BFQ I/O weights (io.bfq.weight): is the bfq "
                       "scheduler loaded?",
                       "weight");
    return fs_.write(vmRel(vm), "io.bfq.weight", std::to_string(*weight), "weight");
  }

  Status addProcess(const std::string& vm, pid_t pid) override {
    PADDOCK_TRY(requireGroup(vm));
    if (pid <= 0)
      return makeError(Errc::invalid_argument, fmt::format("invalid pid {}", pid), "pid");
    return fs_.write(vmRel(vm), "cgroup.procs", std::to_string(pid), "pid");
  }

  Status addThread(const std::string& vm, const std::string& sub, pid_t tid,
                   const CpuLimits& limits) override {
    PADDOCK_TRY(requireGroup(vm));
    PADDOCK_TRY(validateGroupName(sub, "sub"));
    if (tid <= 0)
      return makeError(Errc::invalid_argument, fmt::format("invalid thread id {}", tid), "tid");
    auto available = effectiveCpus(fs_, vmRel(vm), kEffectiveCpus);
    if (!available) return available.error();
    PADDOCK_TRY(validateCpuLimits(limits, *available));
    // Only threaded controllers may be enabled in a group that holds processes.
    PADDOCK_TRY(enableControllers(vmRel(vm), kThreadControllers));
    std::string rel = joinRel(vmRel(vm), sub);
    auto created = fs_.makeGroup(rel);
    if (!created) return created.error();
    auto type = fs_.read(rel, "cgroup.type");
    if (!type) return type.error();
    if (*type != "threaded") PADDOCK_TRY(fs_.write(rel, "cgroup.type", "threaded"));
    PADDOCK_TRY(applyCpu(rel, limits));
    return withHint(
        fs_.write(rel, "cgroup.threads", std::to_string(tid), "tid"), Errc::conflict,
        fmt::format("the thread's process must be in VM {}'s group (addProcess first)", vm));
  }

  Result<CgroupUsage> usage(const std::string& vm) override {
    PADDOCK_TRY(requireGroup(vm));
    std::string rel = vmRel(vm);
    CgroupUsage u;
    std::vector<std::string> groups{rel};
    for (const auto& sub : fs_.childGroups(rel)) groups.push_back(joinRel(rel, sub));
    for (const auto& g : groups) {
      auto stat = fs_.read(g, "cpu.stat");
      if (!stat) return stat.error();
      if (g == rel) u.cpuNs = statValue(*stat, "usage_usec") * 1000;
      u.throttledNs += statValue(*stat, "throttled_usec") * 1000;
    }
    auto mem = fs_.read(rel, "memory.current");
    if (!mem) return mem.error();
    u.memoryBytes = counterValue(*mem);
    return u;
  }

  Status removeGroup(const std::string& vm) override {
    PADDOCK_TRY(validateGroupName(vm, "vm"));
    std::string rel = vmRel(vm);
    if (!fs_.isDir(rel)) return {};
    std::set<pid_t> tasks;
    for (pid_t p : fs_.ids(rel, "cgroup.procs")) tasks.insert(p);
    auto subs = fs_.childGroups(rel);
    for (const auto& sub : subs)
      for (pid_t t : fs_.ids(joinRel(rel, sub), "cgroup.threads")) tasks.insert(t);
    if (!tasks.empty())
      return makeError(Errc::conflict,
                       fmt::format("cgroup of VM {} still holds tasks {}; stop them first", vm,
                                   joinIds({tasks.begin(), tasks.end()})));
    for (const auto& sub : subs) PADDOCK_TRY(fs_.removeGroup(joinRel(rel, sub)));
    return fs_.removeGroup(rel);
  }

  std::vector<std::string> listGroups() override { return fs_.childGroups(root_); }

  Status removeRoot() override {
    auto left = listGroups();
    if (!left.empty())
      return makeError(Errc::conflict, fmt::format("cgroup root {} still holds VM groups: {}",
                                                   root_, fmt::join(left, ", ")));
    return fs_.removeGroup(root_);
  }

 private:
  std::string vmRel(const std::string& vm) const { return joinRel(root_, vm); }

  Status requireGroup(const std::string& vm) const {
    PADDOCK_TRY(validateGroupName(vm, "vm"));
    if (!fs_.isDir(vmRel(vm)))
      return makeError(
          Errc::not_found,
          fmt::format("no cgroup for VM {} in {} (ensureGroup first)", vm, fs_.mount()), "vm");
    return {};
  }

  // Adds the controllers `rel` does not pass to its children yet (one write for all of them).
  Status enableControllers(const std::string& rel, const std::vector<std::string>& wanted) const {
    auto current = fs_.read(rel, "cgroup.subtree_control");
    if (!current) return current.error();
    auto enabled = controllerNames(*current);
    std::vector<std::string> add;
    for (const auto& c : wanted)
      if (!enabled.count(c)) add.push_back("+" + c);
    if (add.empty()) return {};
    return withHint(
        fs_.write(rel, "cgroup.subtree_control", fmt::format("{}", fmt::join(add, " "))),
        Errc::conflict,
        "cgroup v2 passes domain controllers (memory) only through groups that hold "
        "no processes themselves");
  }

  Status applyCpu(const std::string& rel, const CpuLimits& limits) const {
    PADDOCK_TRY(fs_.write(rel, "cpu.weight", std::to_string(v2CpuWeight(limits.shares))));
    Bandwidth b = bandwidthFor(limits);
    std::string max = b.quotaUs == 0 ? fmt::format("max {}", b.periodUs)
                                     : fmt::format("{} {}", b.quotaUs, b.periodUs);
    PADDOCK_TRY(fs_.write(rel, "cpu.max", max, "limit"));
    // An empty cpuset.cpus means the parent's CPUs (unlike v1, where it means none).
    std::string cpus =
        limits.cpus.empty() ? "\n" : formatCpuList({limits.cpus.begin(), limits.cpus.end()});
    return fs_.write(rel, "cpuset.cpus", cpus, "cpus");
  }

  std::string root_;
  CgroupFs fs_;
};

}  // namespace

Result<std::unique_ptr<Cgroups>> makeCgroupV2(const std::string& rootName,
                                              const std::string& mountRoot) {
  PADDOCK_TRY(validateRootName(rootName));
  CgroupFs fs(mountRoot);
  if (!fs.hasFile("", "cgroup.controllers"))
    return makeError(
        Errc::unavailable,
        fmt::format("no cgroup v2 hierarchy at {} (no cgroup.controllers)", mountRoot));
  auto text = fs.read("", "cgroup.controllers");
  if (!text) return makeError(Errc::unavailable, text.error().message);
  auto offered = controllerNames(*text);
  std::vector<std::string> missing;
  for (const auto& c : kVmControllers)
    if (!offered.count(c)) missing.push_back(c);
  if (!missing.empty())
    return makeError(Errc::unavailable,
                     fmt::format("cgroup v2 at {} does not offer the {} controller(s) (bound to a "
                                 "v1 hierarchy, or disabled on the kernel command line?)",
                                 mountRoot, fmt::join(missing, ", ")));
  return std::unique_ptr<Cgroups>(std::make_unique<CgroupV2>(rootName, std::move(fs)));
}

}  // namespace paddock::host
