// The paddock target: a VM of the debian image with the shape asked for, made and booted by
// paddockd like any other; each workload runs in its root shell on the serial console (the
// image logs root in there), and its stdout comes back through the console WebSocket.
#include <unistd.h>

#include <atomic>
#include <thread>

#include <fmt/format.h>

#include "bench/tools/bench_targets.h"
#include "bench/tools/console_session.h"

namespace paddock::bench {

namespace {

using namespace std::chrono_literals;

class WebSocketConsole : public ConsoleLink {
 public:
  explicit WebSocketConsole(http::WebSocket& ws) : ws_(ws) {}
  bool send(std::string_view bytes) override { return ws_.sendBinary(bytes); }
  std::optional<std::string> receive(std::chrono::steady_clock::time_point) override {
    auto m = ws_.receive();
    if (!m) return std::nullopt;
    return std::move(*m);
  }
  void close() override { ws_.close(); }

 private:
  http::WebSocket& ws_;
};

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
    return runGuestWorkload(
        [this](const std::string& c, std::chrono::seconds t) { return console(c, t); }, workload,
        shape_.profile, timeout);
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
  // Runs `command` in the console's shell: (exit status, what it printed).
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
    // receive() blocks: closing the socket at the deadline ends it.
    std::atomic<bool> finished{false};
    std::thread watchdog([&] {
      while (!finished && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
      ws->close();
    });
    WebSocketConsole link(*ws);
    auto out = runInConsole(link, command, deadline, ++serial_);
    finished = true;
    watchdog.join();
    return out;
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
