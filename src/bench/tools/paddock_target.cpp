// The paddock target: a VM of the debian image with the shape asked for, made and booted by
// paddockd like any other; each workload runs in its root shell on the serial console (the
// image logs root in there), and its stdout comes back through the console WebSocket.
#include <unistd.h>

#include <atomic>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "bench/tools/bench_targets.h"

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
    auto made = client_.call("POST", "/v1/vms", spec);
    if (!made) {
      vm_.clear();
      return made.error();
    }
    auto op = client_.call("POST", "/v1/vms/" + vm_ + "/actions/start",
                           {{"wait_ready", true}, {"ready_timeout_s", 600}});
    if (!op) return op.error();
    auto started = client_.waitOperation(op->value("id", int64_t{0}), nullptr);
    if (!started) return started.error();
    accel_ = (*started)["runtime"].value("accel", "");
    bootSeconds_ = static_cast<double>((*started)["runtime"].value("ready_at_ms", int64_t{0}) -
                                       (*started)["runtime"].value("started_at_ms", int64_t{0})) /
                   1000.0;
    return {};
  }

  Result<std::string> run(const std::string& workload, std::chrono::seconds timeout) override {
    auto out = console(fmt::format("/usr/local/lib/paddock-bench/xen-2004.sh {} {} 2>/tmp/err",
                                   workload, shape_.profile),
                       timeout);
    if (!out) return out.error();
    if (out->first != 0) {
      auto err = console("tail -1 /tmp/err", 30s);
      std::string why = err ? err->second : "";
      while (!why.empty() && (why.back() == '\n' || why.back() == '\r')) why.pop_back();
      auto nl = why.rfind('\n');
      if (nl != std::string::npos) why = why.substr(nl + 1);
      return makeError(Errc::internal, fmt::format("exit {}: {}", out->first, why));
    }
    return out->second;
  }

  nlohmann::json describe() const override {
    return {{"vm", vm_},
            {"image", image_},
            {"accelerator", accel_},
            {"vcpus", shape_.vcpus},
            {"memory_mib", shape_.memoryMib},
            {"boot_to_ready_s", bootSeconds_}};
  }

  void cleanup() override {
    if (vm_.empty()) return;
    (void)client_.call("POST", "/v1/vms/" + vm_ + "/actions/stop", nlohmann::json::object());
    (void)client_.call("DELETE", "/v1/vms/" + vm_);
    vm_.clear();
  }

 private:
  // Runs `command` in the console's shell: (exit status, what it printed after the command's
  // echo). The end is a marker line the echo cannot contain (its digits are printed by $((..))).
  Result<std::pair<int, std::string>> console(const std::string& command,
                                              std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::shared_ptr<http::WebSocket> ws;
    // A console has one writer; the previous session may hold it for a moment.
    while (!ws) {
      if (std::chrono::steady_clock::now() > deadline)
        return makeError(Errc::timeout, "the VM's console stayed busy");
      auto opened = client_.openWebSocket("/v1/vms/" + vm_ + "/console");
      if (!opened) return opened.error();
      std::shared_ptr<http::WebSocket> candidate(std::move(*opened));
      auto notice = candidate->receive();
      if (notice && notice->find("\"writer\":true") != std::string::npos) {
        ws = candidate;
      } else {
        candidate->close();
        std::this_thread::sleep_for(200ms);
      }
    }
    std::string mark = fmt::format("PBX{}", ++serial_);
    std::atomic<bool> finished{false};
    std::thread watchdog([&] {
      while (!finished && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
      ws->close();
    });
    // `$((1))` prints 1 but echoes as itself, so only the command's end matches the marker.
    ws->sendBinary(fmt::format("{}; echo {}$((1))=$?\n", command, mark));
    std::regex done(mark + "1=(\\d+)");
    std::string seen;
    std::smatch m;
    int status = -1;
    while (auto msg = ws->receive()) {
      seen += *msg;
      if (std::regex_search(seen, m, done)) {
        status = std::stoi(m[1]);
        break;
      }
    }
    finished = true;
    watchdog.join();
    ws->close();
    if (status < 0)
      return makeError(Errc::timeout,
                       fmt::format("no answer from the VM's console within {} s", timeout.count()));
    // Drop the echoed command line.
    auto echo = seen.find(mark + "$((1))");
    auto start = echo == std::string::npos ? 0 : seen.find('\n', echo);
    std::string out = seen.substr(
        start == std::string::npos ? 0 : start + 1,
        static_cast<size_t>(m.position(0)) - (start == std::string::npos ? 0 : start + 1));
    return std::make_pair(status, out);
  }

  TargetShape shape_;
  PaddockClient& client_;
  std::string image_;
  std::string vm_;
  std::string accel_;
  double bootSeconds_ = 0;
  int serial_ = 0;
};

}  // namespace

std::unique_ptr<BenchTarget> paddockTarget(const TargetShape& shape, PaddockClient& client,
                                           const std::string& image) {
  return std::make_unique<PaddockTarget>(shape, client, image);
}

}  // namespace paddock::bench
