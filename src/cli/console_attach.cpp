#include "cli/console_attach.h"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "http/websocket.h"

namespace paddock::cli {

namespace {

constexpr char kDetach = 0x1d;  // Ctrl-]
constexpr auto kPipeLinger = std::chrono::milliseconds(1500);

class RawTerminal {
 public:
  RawTerminal() {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

}  // namespace

Status attachConsole(PaddockClient& client, const std::string& vm, bool readOnly) {
  auto ws =
      client.openWebSocket("/v1/vms/" + vm + "/console?replay=1&mode=" + (readOnly ? "ro" : "rw"));
  if (!ws) return ws.error();
  std::shared_ptr<http::WebSocket> sock(std::move(*ws));
  bool tty = isatty(STDIN_FILENO);
  if (tty) std::fprintf(stderr, "Connected to %s's console. Ctrl-] detaches.\r\n", vm.c_str());
  std::atomic<bool> closed{false};
  std::atomic<int64_t> lastOutputMs{0};
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  RawTerminal raw;
  std::thread reader([&] {
    for (;;) {
      auto msg = sock->receive();
      if (!msg) break;
      // Text frames are notices from paddockd; binary frames are console bytes.
      auto j = nlohmann::json::parse(*msg, nullptr, false);
      if (j.is_object() && (j.contains("writer") || j.contains("closed"))) {
        if (j.value("writer", true) == false && !readOnly)
          std::fprintf(stderr, "paddock: another client is typing on this console; read-only\r\n");
        if (j.contains("closed"))
          std::fprintf(stderr, "\r\npaddock: %s\r\n", j["closed"].get<std::string>().c_str());
        continue;
      }
      lastOutputMs = now();
      if (::write(STDOUT_FILENO, msg->data(), msg->size()) < 0) break;
    }
    closed = true;
  });
  bool stdinOpen = true;
  int64_t stdinClosedAt = 0;
  while (!closed) {
    if (!stdinOpen) {
      // Piped input is done: leave once the guest has had time to answer and gone quiet.
      int64_t t = now();
      if (t - stdinClosedAt > kPipeLinger.count() && t - lastOutputMs > 500) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[1024];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) {
      stdinOpen = false;
      stdinClosedAt = now();
      continue;
    }
    std::string_view data(buf, static_cast<size_t>(n));
    auto detach = data.find(kDetach);
    if (detach != std::string_view::npos) {
      if (detach > 0 && !readOnly) sock->sendBinary(data.substr(0, detach));
      break;
    }
    if (!readOnly) {
      // A terminal sends CR for Enter; the guest's shell expects it as is.
      if (!sock->sendBinary(data)) break;
    }
  }
  sock->close();
  reader.join();
  if (raw.active()) std::fprintf(stderr, "\r\n");
  return {};
}

}  // namespace paddock::cli
