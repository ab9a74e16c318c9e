// The native target: the workload script runs on this host under taskset (the guest's CPU
// count) and, where a memory cgroup can be made, with the guest's memory as its limit.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "bench/tools/bench_targets.h"
#include "common/files.h"
#include "common/subprocess.h"

namespace paddock::bench {

namespace {

std::string lastLine(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

class NativeTarget : public BenchTarget {
 public:
  explicit NativeTarget(TargetShape shape) : shape_(std::move(shape)) {}
  ~NativeTarget() override { cleanup(); }

  std::string name() const override { return "native"; }

  Status prepare() override {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (shape_.vcpus > cpus)
      return makeError(Errc::invalid_argument,
                       fmt::format("--vcpus {}: this host has {} CPUs", shape_.vcpus, cpus),
                       "vcpus");
    work_ = fmt::format("/var/tmp/paddock-bench-native-{}", getpid());
    PADDOCK_TRY(makeDirs(work_, 0755));
    memoryLimit_ = limitMemory();
    return {};
  }

  Result<std::string> run(const std::string& workload, std::chrono::seconds timeout) override {
    std::string script = shape_.workloadsDir + "/xen-2004.sh";
    // The shell joins the memory cgroup (when there is one) and becomes the workload.
    std::string join = cgroup_.empty() ? "" : "echo $$ > '" + cgroup_ + "/cgroup.procs' && ";
    auto out =
        runCommand({"sh", "-c", join + "exec taskset -c \"$0\" bash \"$1\" \"$2\" \"$3\" \"$4\"",
                    fmt::format("0-{}", shape_.vcpus - 1), script, workload, shape_.profile, work_},
                   timeout);
    if (!out) return out.error();
    if (out->exitCode != 0)
      return makeError(Errc::internal,
                       fmt::format("exit {}: {}", out->exitCode, lastLine(out->err)));
    return out->out;
  }

  nlohmann::json describe() const override {
    return {{"cpus", fmt::format("taskset -c 0-{}", shape_.vcpus - 1)},
            {"memory_limit", memoryLimit_}};
  }

  void cleanup() override {
    if (!work_.empty()) (void)removeAll(work_);
    work_.clear();
    if (!cgroup_.empty()) ::rmdir(cgroup_.c_str());
    cgroup_.clear();
  }

 private:
  // A memory cgroup (v2, else v1) limited to the guest's memory; the text the report shows.
  std::string limitMemory() {
    std::string bytes = std::to_string(static_cast<long long>(shape_.memoryMib) << 20);
    std::string group = fmt::format("paddock-bench-native-{}", getpid());
    struct Kind {
      std::string root, probe, file;
    };
    for (const Kind& k :
         {Kind{"/sys/fs/cgroup", "cgroup.controllers", "memory.max"},
          Kind{"/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.limit_in_bytes"}}) {
      if (!pathExists(k.root + "/" + k.probe)) continue;
      std::string dir = k.root + "/" + group;
      if (::mkdir(dir.c_str(), 0755) != 0) continue;
      std::ofstream f(dir + "/" + k.file);
      f << bytes;
      f.close();
      if (!f) {
        ::rmdir(dir.c_str());
        continue;
      }
      cgroup_ = dir;
      return fmt::format("{} MiB ({}/{})", shape_.memoryMib, dir, k.file);
    }
    return "not applied: no writable memory cgroup";
  }

  TargetShape shape_;
  std::string work_;
  std::string cgroup_;
  std::string memoryLimit_;
};

}  // namespace

std::unique_ptr<BenchTarget> nativeTarget(const TargetShape& shape) {
  return std::make_unique<NativeTarget>(shape);
}

}  // namespace paddock::bench
