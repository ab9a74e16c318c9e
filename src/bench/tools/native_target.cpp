// The native target: the workload script runs on this host under taskset (the guest's CPU
// count) and, where a memory cgroup can be made, with the guest's memory as its limit.
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "bench/tools/bench_targets.h"
#include "bench/tools/iperf_server.h"
#include "bench/tools/web_workload.h"
#include "common/files.h"
#include "common/net_port.h"
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
    if (shape_.network) PADDOCK_TRY(iperf_.start("127.0.0.1", work_ + "/iperf3.log"));
    return {};
  }

  Result<std::string> run(const std::string& workload, std::chrono::seconds timeout) override {
    if (workload == "web") return runWeb(timeout);
    return limited({shape_.workloadsDir + "/xen-2004.sh", workload, shape_.profile, work_},
                   timeout);
  }

  nlohmann::json describe() const override {
    nlohmann::json d = {{"cpus", fmt::format("taskset -c 0-{}", shape_.vcpus - 1)},
                        {"memory_limit", memoryLimit_}};
    if (shape_.network) d["network"] = "loopback, iperf3 -s on " + iperf_.endpoint();
    return d;
  }

  void cleanup() override {
    iperf_.stop();
    if (!work_.empty()) (void)removeAll(work_);
    work_.clear();
    if (!cgroup_.empty()) ::rmdir(cgroup_.c_str());
    cgroup_.clear();
  }

 private:
  // `bash ARGS` in the memory cgroup (when there is one) and on the guest's CPU count: its
  // stdout, or its exit status and last line of stderr as the error.
  Result<std::string> limited(const std::vector<std::string>& args, std::chrono::seconds timeout) {
    std::string join = cgroup_.empty() ? "" : "echo $$ > '" + cgroup_ + "/cgroup.procs' && ";
    std::vector<std::string> argv = {"sh",
                                     "-c",
                                     join +
                                         "cpus=$1 peer=$2; shift 2; exec env "
                                         "\"$peer\" taskset -c \"$cpus\" bash \"$@\"",
                                     "sh",
                                     fmt::format("0-{}", shape_.vcpus - 1),
                                     "PADDOCK_BENCH_PEER=" + iperf_.endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = runCommand(argv, timeout);
    if (!out) return out.error();
    if (out->exitCode != 0)
      return makeError(Errc::internal,
                       fmt::format("exit {}: {}", out->exitCode, lastLine(out->err)));
    return out->out;
  }

  // One web server here (the paper's native Linux ran one): nginx and the dynamic handler in the
  // cgroup and on the CPUs a guest gets, on 127.0.0.1; the load generator runs outside them.
  Result<std::string> runWeb(std::chrono::seconds timeout) {
    // nginx listens on every address on the port, its dynamic handler on the next one.
    auto port = freeTcpPorts("0.0.0.0", 2);
    if (!port) return port.error();
    std::string dir = work_ + "/web";
    std::string script = shape_.workloadsDir + "/web-serve.sh";
    auto started = limited({script, "start", dir, std::to_string(*port)}, timeout);
    Result<std::string> out =
        started ? measureWeb({{"127.0.0.1", *port, "native"}}, webPlan(shape_.profile))
                : Result<std::string>(started.error());
    auto stopped = runCommand({"bash", script, "stop", dir}, std::chrono::minutes(1));
    if (out && (!stopped || stopped->exitCode != 0))
      return makeError(Errc::internal,
                       "web-serve.sh stop failed: " +
                           (stopped ? lastLine(stopped->err) : stopped.error().message));
    return out;
  }

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
  IperfServer iperf_;
  std::string work_;
  std::string cgroup_;
  std::string memoryLimit_;
};

}  // namespace

std::unique_ptr<BenchTarget> nativeTarget(const TargetShape& shape) {
  return std::make_unique<NativeTarget>(shape);
}

}  // namespace paddock::bench
