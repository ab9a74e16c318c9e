// The qemu-peer target: the same debian image in a QEMU started by hand, as someone tuning it
// without Paddock would: a private copy of the root disk opened with cache=none,aio=native, the
// accelerator paddockd resolved (-cpu host under KVM, max under TCG), the serial console on a
// socket this program reads. Paddock ÷ qemu-peer is what Paddock's defaults cost.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bench/tools/bench_targets.h"
#include "bench/tools/console_session.h"
#include "bench/tools/iperf_server.h"
#include "common/files.h"
#include "common/subprocess.h"

namespace paddock::bench {

namespace {

using namespace std::chrono_literals;

class QemuPeerTarget : public BenchTarget {
 public:
  QemuPeerTarget(TargetShape shape, PaddockClient& client, std::string image)
      : shape_(std::move(shape)), client_(client), image_(std::move(image)) {}
  ~QemuPeerTarget() override { cleanup(); }

  std::string name() const override { return "qemu-peer"; }

  Status prepare() override {
    auto info = client_.call("GET", "/v1/images/" + image_);
    if (!info) return info.error();
    std::string root = info->value("root_disk", "");
    if (!info->value("built", false) || root.empty())
      return makeError(Errc::invalid_argument,
                       fmt::format("image '{}' is not built or has no root disk", image_), "image");
    auto host = client_.call("GET", "/v1/host");
    if (!host) return host.error();
    accel_ = host->value("accelerator", "tcg");
    dir_ = fmt::format("/var/tmp/paddock-bench-peer-{}", getpid());
    PADDOCK_TRY(makeDirs(dir_, 0700));
    std::string disk = dir_ + "/root.qcow2";
    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{"qemu-img", "convert", "-O", "qcow2", root, disk},
          {"qemu-img", "resize", "-q", disk, fmt::format("{}M", shape_.diskMib)}}) {
      auto out = runCommand(argv, std::chrono::minutes(5));
      if (!out) return out.error();
      if (out->exitCode != 0)
        return makeError(Errc::internal, fmt::format("{} failed: {}", argv[1], out->err));
    }
    std::string console = dir_ + "/console.sock";
    std::vector<std::string> argv = {
        "qemu-system-x86_64",
        "-name",
        "qemu-peer",
        "-machine",
        "q35,accel=" + accel_,
        "-cpu",
        accel_ == "kvm" ? "host" : "max",
        "-smp",
        std::to_string(shape_.vcpus),
        "-m",
        fmt::format("{}M", shape_.memoryMib),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-kernel",
        info->value("kernel", ""),
        "-initrd",
        info->value("initrd", ""),
        "-append",
        "console=ttyS0 paddock.hostname=qemu-peer quiet root=/dev/vda rw",
        "-drive",
        "file=" + disk + ",if=virtio,format=qcow2,cache=none,aio=native,discard=unmap",
        "-serial",
        "unix:" + console + ",server=on,wait=off"};
    if (shape_.network) {
      PADDOCK_TRY(makeNetwork());
      // vhost-net needs KVM's ioeventfds; under TCG QEMU's own virtio-net backend it is.
      argv.insert(argv.end(),
                  {"-netdev",
                   "tap,id=n0,ifname=" + tap_ + ",script=no,downscript=no" +
                       (accel_ == "kvm" ? ",vhost=on" : ""),
                   "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:50:44:01,romfile="});
    }
    auto started = std::chrono::steady_clock::now();
    auto pid = spawnBound(argv, dir_ + "/qemu.log");
    if (!pid) return pid.error();
    pid_ = *pid;
    // Its console: connect once QEMU listens, then wait for the readiness line.
    auto deadline = started + 600s;
    while (!link_) {
      if (std::chrono::steady_clock::now() > deadline || !alive())
        return makeError(Errc::unavailable, "the peer QEMU did not start: " + logTail());
      if (auto l = unixConsole(console))
        link_ = std::move(*l);
      else
        std::this_thread::sleep_for(50ms);
    }
    std::string seen;
    while (seen.find("PADDOCK-READY") == std::string::npos) {
      auto bytes = link_->receive(deadline);
      if (!bytes) return makeError(Errc::timeout, "the peer guest did not report ready in 600 s");
      seen += *bytes;
      if (seen.size() > 65536) seen.erase(0, seen.size() - 1024);
    }
    bootSeconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // The login prompt and shell come a moment after the readiness line.
    auto shell = runInConsole(*link_, "true", std::chrono::steady_clock::now() + 120s);
    if (!shell) return shell.error();
    if (shape_.network) PADDOCK_TRY(configureGuestNetwork());
    return {};
  }

  // The web-hosting test needs many guests; the peer is one QEMU (left out: see bench-suite.md).
  bool runs(const std::string& workload) const override { return workload != "web"; }

  Result<std::string> run(const std::string& workload, std::chrono::seconds timeout) override {
    auto console = [this](const std::string& command, std::chrono::seconds t) {
      return runInConsole(*link_, command, std::chrono::steady_clock::now() + t);
    };
    return runGuestWorkload(console, workload, shape_.profile, timeout, iperf_.endpoint());
  }

  nlohmann::json describe() const override {
    return {{"image", image_},
            {"accelerator", accel_},
            {"vcpus", shape_.vcpus},
            {"memory_mib", shape_.memoryMib},
            {"disk", "private copy, virtio, cache=none,aio=native"},
            {"boot_to_ready_s", bootSeconds_},
            {"network",
             tap_.empty()
                 ? "none"
                 : fmt::format("TAP {} on bridge {} ({}.0/24{}), iperf3 -s on {}", tap_, bridge_,
                               subnet_, accel_ == "kvm" ? ", vhost-net" : "", iperf_.endpoint())}};
  }

  void cleanup() override {
    if (link_) link_->close();
    link_.reset();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    iperf_.stop();
    for (auto* link : {&tap_, &bridge_})
      if (!link->empty()) (void)runCommand({"ip", "link", "del", *link}, 10s);
    tap_.clear();
    bridge_.clear();
    if (!dir_.empty()) (void)removeAll(dir_);
    dir_.clear();
  }

 private:
  // What someone would set up by hand: a bridge with the host's address on it, and a TAP port
  // for the guest, on a /24 of 172.31.0.0/16 that no route of this namespace uses yet.
  Status makeNetwork() {
    auto routes = runCommand({"ip", "-4", "route", "show", "table", "all"}, 10s);
    if (!routes) return routes.error();
    for (int n = 0; n < 256 && subnet_.empty(); ++n) {
      std::string candidate = fmt::format("172.31.{}", n);
      if (routes->out.find(candidate + ".") == std::string::npos) subnet_ = candidate;
    }
    if (subnet_.empty()) return makeError(Errc::unavailable, "no free /24 in 172.31.0.0/16");
    bridge_ = fmt::format("pbb{}", getpid());
    tap_ = fmt::format("pbt{}", getpid());
    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{"ip", "link", "add", bridge_, "type", "bridge"},
          {"ip", "addr", "add", subnet_ + ".1/24", "dev", bridge_},
          {"ip", "link", "set", bridge_, "up"},
          {"ip", "tuntap", "add", "dev", tap_, "mode", "tap"},
          {"ip", "link", "set", tap_, "master", bridge_, "up"}}) {
      auto out = runCommand(argv, 10s);
      if (!out) return out.error();
      if (out->exitCode != 0)
        return makeError(Errc::unavailable,
                         fmt::format("{} failed: {}", fmt::join(argv, " "), out->err));
    }
    return iperf_.start(subnet_ + ".1", dir_ + "/iperf3.log");
  }

  // The guest's address, typed on its console (the image has no seed to say it), and a ping
  // of the host through it.
  Status configureGuestNetwork() {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    auto done = runInConsole(
        *link_,
        fmt::format("dev=$(ls /sys/class/net | grep -vx lo | head -1) && ip addr add {0}.2/24 dev "
                    "$dev && ip link set $dev up && for i in $(seq 40); do ping -c1 -W1 {0}.1 "
                    ">/dev/null && break; done; ping -c1 -W2 {0}.1 >/dev/null",
                    subnet_),
        deadline);
    if (!done) return done.error();
    if (done->status != 0)
      return makeError(Errc::unavailable,
                       "the peer guest cannot reach the host on its network: " + done->output);
    return {};
  }

  bool alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  std::string logTail() const {
    auto log = readFile(dir_ + "/qemu.log");
    if (!log) return "no log";
    return log->substr(log->size() > 300 ? log->size() - 300 : 0);
  }

  TargetShape shape_;
  PaddockClient& client_;
  std::string image_;
  std::string accel_;
  std::string dir_;
  pid_t pid_ = -1;
  std::string subnet_, bridge_, tap_;  // with shape_.network
  IperfServer iperf_;
  std::unique_ptr<ConsoleLink> link_;
  double bootSeconds_ = 0;
};

}  // namespace

std::unique_ptr<BenchTarget> qemuPeerTarget(const TargetShape& shape, PaddockClient& client,
                                            const std::string& image) {
  return std::make_unique<QemuPeerTarget>(shape, client, image);
}

}  // namespace paddock::bench
