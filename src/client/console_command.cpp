#include "client/console_command.h"

#include <atomic>
#include <memory>
#include <regex>
#include <thread>

#include <fmt/format.h>

#include "http/websocket.h"

namespace paddock {

namespace {

using namespace std::chrono_literals;

class WebSocketConsole : public ConsoleLink {
 public:
  explicit WebSocketConsole(http::WebSocket& ws) : ws_(ws) {}
  bool send(std::string_view bytes) override { return ws_.sendBinary(bytes); }
  // The socket blocks: runOnVmConsole closes it at the deadline.
  std::optional<std::string> receive(std::chrono::steady_clock::time_point) override {
    auto m = ws_.receive();
    if (!m) return std::nullopt;
    return std::move(*m);
  }
  void close() override { ws_.close(); }

 private:
  http::WebSocket& ws_;
};

}  // namespace

Result<ConsoleResult> runInConsole(ConsoleLink& link, const std::string& command,
                                   std::chrono::steady_clock::time_point deadline) {
  static std::atomic<int> serial{0};
  std::string mark = fmt::format("PBX{}_", ++serial);
  if (!link.send(fmt::format("{}; echo {}$((1))=$?\n", command, mark)))
    return makeError(Errc::unavailable, "the console link is closed");
  std::regex done(mark + "1=(\\d+)");
  std::string seen;
  std::smatch m;
  for (;;) {
    auto bytes = link.receive(deadline);
    if (!bytes) return makeError(Errc::timeout, "no answer from the guest's console in time");
    seen += *bytes;
    if (std::regex_search(seen, m, done)) break;
  }
  // What the command printed: from the line after its echo to the marker.
  auto echo = seen.find(mark + "$((1))");
  size_t start = 0;
  if (echo != std::string::npos) {
    auto nl = seen.find('\n', echo);
    start = nl == std::string::npos ? seen.size() : nl + 1;
  }
  auto end = static_cast<size_t>(m.position(0));
  return ConsoleResult{std::stoi(m[1]), end > start ? seen.substr(start, end - start) : ""};
}

Result<ConsoleResult> runOnVmConsole(PaddockClient& client, const std::string& vm,
                                     const std::string& command, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::shared_ptr<http::WebSocket> ws;
  while (!ws) {
    if (std::chrono::steady_clock::now() > deadline)
      return makeError(Errc::timeout, fmt::format("the console of VM {} stayed busy", vm));
    auto opened = client.openWebSocket("/v1/vms/" + vm + "/console");
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
      std::this_thread::sleep_for(50ms);
    ws->close();
  });
  WebSocketConsole link(*ws);
  auto out = runInConsole(link, command, deadline);
  finished = true;
  watchdog.join();
  return out;
}

}  // namespace paddock
