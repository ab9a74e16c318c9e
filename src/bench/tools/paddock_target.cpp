// The paddock target: a VM of the debian image with the shape asked for, made and booted by
// paddockd like any other; each workload runs in its root shell on the serial console (the
// image logs root in there), and its stdout comes back through the console WebSocket.
#include <unistd.h>

#include <fmt/format.h>

#include "bench/tools/bench_targets.h"
#include "bench/tools/console_session.h"
#include "bench/tools/iperf_server.h"
#include "bench/tools/web_workload.h"
#include "common/files.h"

namespace paddock::bench {

namespace {

using namespace std::chrono_literals;

class PaddockTarget : public BenchTarget {
 public:
  PaddockTarget(TargetShape shape, PaddockClient& client, std::string image)
      : shape_(std::move(shape)), client_(client), image_(std::move(image)) {}
  ~PaddockTarget() override { cleanup(); }

  std::string name() const override { return "paddock"; }

  Status prepare() override {
    vm_ = fmt::format("bench-xen2004-{}", getpid());
    nlohmann::json spec = {{"name", vm_},
                           {"vcpus", shape_.vcpus},
                           {"memory_mib", shape_.memoryMib},
                           {"image", image_},
                           {"description", "paddock-bench run (deleted when it ends)"},
                           {"disks", {{{"name", "root"}, {"size_mib", shape_.diskMib}}}}};
    if (shape_.network) {
      PADDOCK_TRY(makeNetwork());
      spec["nics"] = {{{"network", network_}}};
    }
    auto made = client_.call("POST", "/v1/vms", spec);
    if (!made) {
      vm_.clear();
      return made.error();
    }
    auto op = start(vm_, 600);
    if (!op) return op.error();
    auto started = client_.waitOperation(*op, nullptr);
    if (!started) return started.error();
    accel_ = (*started)["runtime"].value("accel", "");
    bootSeconds_ = static_cast<double>((*started)["runtime"].value("ready_at_ms", int64_t{0}) -
                                       (*started)["runtime"].value("started_at_ms", int64_t{0})) /
                   1000.0;
    return {};
  }

  Result<std::string> run(const std::string& workload, std::chrono::seconds timeout) override {
    if (workload == "web") return runWeb(timeout);
    return runGuestWorkload(
        [this](const std::string& c, std::chrono::seconds t) {
          return runOnVmConsole(client_, vm_, c, t);
        },
        workload, shape_.profile, timeout, iperf_.endpoint());
  }

  nlohmann::json describe() const override {
    return {{"vm", vm_},
            {"web_guests", webGuests_.size()},
            {"web_guest_memory_mib", kWebGuestMemoryMib},
            {"image", image_},
            {"accelerator", accel_},
            {"vcpus", shape_.vcpus},
            {"memory_mib", shape_.memoryMib},
            {"boot_to_ready_s", bootSeconds_},
            {"network", network_.empty() ? "none"
                                         : fmt::format("internal network {}, iperf3 -s on {}",
                                                       network_, iperf_.endpoint())}};
  }

  void cleanup() override {
    for (const auto& g : webGuests_) remove(g.name);
    webGuests_.clear();
    webServing_ = 0;
    if (!vm_.empty()) remove(vm_);
    vm_.clear();
    iperf_.stop();
    if (!network_.empty()) (void)client_.call("DELETE", "/v1/networks/" + network_);
    network_.clear();
    if (!logDir_.empty()) (void)removeAll(logDir_);
    logDir_.clear();
  }

 private:
  struct WebGuest {
    std::string name, ip;
  };

  void remove(const std::string& vm) {
    (void)client_.call("POST", "/v1/vms/" + vm + "/actions/stop", nlohmann::json::object());
    (void)client_.call("DELETE", "/v1/vms/" + vm);
  }

  // Starts `vm` (ready when the guest says so): the operation's id.
  Result<int64_t> start(const std::string& vm, int readyTimeoutS) {
    auto op = client_.call("POST", "/v1/vms/" + vm + "/actions/start",
                           {{"wait_ready", true}, {"ready_timeout_s", readyTimeoutS}});
    if (!op) return op.error();
    return op->value("id", int64_t{0});
  }

  // The web-hosting test: for each size of the plan, that many guests of their own (booted the
  // first time a size needs them, kept for the next trials) serving web-serve.sh's site on the
  // network, all driven at once.
  Result<std::string> runWeb(std::chrono::seconds timeout) {
    auto plan = webPlan(shape_.profile, shape_.webGuests);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string out;
    for (int n : plan.guests) {
      PADDOCK_TRY(ensureWebGuests(static_cast<std::size_t>(n), deadline));
      std::vector<WebServer> servers;
      for (int i = 0; i < n; ++i)
        servers.push_back({webGuests_[i].ip, kWebGuestPort, webGuests_[i].name});
      auto lines = measureWeb(servers, plan);
      if (!lines) return lines.error();
      out += *lines;
    }
    return out;
  }

  // Guests 1..n booted and serving (a guest whose server failed to start gets another try).
  Status ensureWebGuests(std::size_t n, std::chrono::steady_clock::time_point deadline) {
    if (webServing_ >= n) return {};
    auto dot = subnet_.rfind('.');
    if (dot == std::string::npos)
      return makeError(Errc::internal, "the bench network has no subnet: " + subnet_);
    std::vector<int64_t> ops;
    for (std::size_t i = webGuests_.size(); i < n; ++i) {
      WebGuest g{fmt::format("bench-web-{}-{}", getpid(), i + 1),
                 fmt::format("{}.{}", subnet_.substr(0, dot), 20 + i)};
      nlohmann::json spec = {{"name", g.name},
                             {"vcpus", shape_.vcpus},
                             {"memory_mib", kWebGuestMemoryMib},
                             {"image", image_},
                             {"description", "paddock-bench web guest (deleted when it ends)"},
                             {"disks", {{{"name", "root"}, {"size_mib", shape_.diskMib}}}},
                             {"nics", {{{"network", network_}, {"ip", g.ip}}}}};
      auto made = client_.call("POST", "/v1/vms", spec);
      if (!made) return made.error();
      webGuests_.push_back(g);
      auto op = start(g.name, 1800);
      if (!op) return op.error();
      ops.push_back(*op);
    }
    for (auto id : ops)
      if (auto started = client_.waitOperation(id, nullptr); !started) return started.error();
    for (; webServing_ < n; ++webServing_) {
      const auto& g = webGuests_[webServing_];
      auto left = std::chrono::duration_cast<std::chrono::seconds>(
          deadline - std::chrono::steady_clock::now());
      auto served =
          runOnVmConsole(client_, g.name,
                         fmt::format("/usr/local/lib/paddock-bench/web-serve.sh start {} {}",
                                     kWebGuestDir, kWebGuestPort),
                         std::max(left, std::chrono::seconds(1)));
      if (!served) return served.error();
      if (served->status != 0 || served->output.find("WEB-READY") == std::string::npos)
        return makeError(Errc::internal, fmt::format("web-serve.sh in {}: exit {}: {}", g.name,
                                                     served->status, served->output));
    }
    return {};
  }

  // An internal network for the guest alone (DHCP from paddockd's dnsmasq, no route out), and
  // the host's iperf3 server on its gateway address.
  Status makeNetwork() {
    std::string name = fmt::format("bench-{}", getpid());
    auto net = client_.call("POST", "/v1/networks",
                            {{"name", name},
                             {"kind", "internal"},
                             {"description", "paddock-bench run (deleted when it ends)"}});
    if (!net) return net.error();
    network_ = name;
    subnet_ = net->value("subnet", "");
    logDir_ = fmt::format("/var/tmp/paddock-bench-paddock-{}", getpid());
    PADDOCK_TRY(makeDirs(logDir_, 0700));
    return iperf_.start(net->value("gateway", ""), logDir_ + "/iperf3.log");
  }

  TargetShape shape_;
  PaddockClient& client_;
  std::string image_;
  std::string vm_;
  std::string network_;
  std::string subnet_;
  std::vector<WebGuest> webGuests_;
  std::size_t webServing_ = 0;  // the first this many of them serve
  std::string logDir_;
  IperfServer iperf_;
  std::string accel_;
  double bootSeconds_ = 0;
};

}  // namespace

std::unique_ptr<BenchTarget> paddockTarget(const TargetShape& shape, PaddockClient& client,
                                           const std::string& image) {
  return std::make_unique<PaddockTarget>(shape, client, image);
}

}  // namespace paddock::bench
