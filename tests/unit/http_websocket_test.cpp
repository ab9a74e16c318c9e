#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"
#include "http/http_server.h"

namespace paddock::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string makeTempDir() {
  std::string tmpl = "/tmp/paddock-http-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

class HttpWebSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir();
    path_ = dir_ + "/paddockd.sock";
  }
  void TearDown() override {
    server_.stop();
    std::filesystem::remove_all(dir_);
  }
  void start(Server::Handler handler) {
    server_.setHandler(std::move(handler));
    server_.setTcpAuthToken("tok");
    ASSERT_TRUE(server_.listenUnix(path_).ok());
    auto port = server_.listenTcp("127.0.0.1", 0);
    ASSERT_TRUE(port.ok());
    port_ = *port;
    ASSERT_TRUE(server_.start().ok());
  }
  Client unixClient() const { return Client(Endpoint::unixSocket(path_)); }
  Client tcpClient(std::string token) const {
    return Client(Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(port_)), std::move(token));
  }

  std::string dir_;
  std::string path_;
  int port_ = 0;
  Server server_;
};

// Greets, then echoes every message back with a prefix until the peer closes.
void echoHandler(const Request& req, Exchange& ex) {
  if (!ex.isWebSocketUpgrade()) {
    ex.respond(errorResponse(makeError(Errc::invalid_argument, "websocket only")));
    return;
  }
  if (req.path != "/ws") {
    ex.respond(errorResponse(makeError(Errc::not_found, "no console here")));
    return;
  }
  auto ws = ex.acceptWebSocket();
  if (!ws) return;
  ws->sendText("hello");
  for (;;) {
    auto msg = ws->receive();
    if (!msg) return;
    if (!ws->sendBinary("echo:" + *msg)) return;
  }
}

TEST_F(HttpWebSocketTest, EchoBothDirections) {
  start(echoHandler);
  for (auto client : {unixClient(), tcpClient("tok")}) {
    auto ws = client.openWebSocket("/ws");
    ASSERT_TRUE(ws.ok()) << ws.error().message;
    auto greeting = (*ws)->receive();
    ASSERT_TRUE(greeting.ok());
    EXPECT_EQ(*greeting, "hello");
    ASSERT_TRUE((*ws)->sendText("ping"));
    EXPECT_EQ((*ws)->receive().value(), "echo:ping");
    std::string binary("\0\x01\xff bytes", 9);
    ASSERT_TRUE((*ws)->sendBinary(binary));
    EXPECT_EQ((*ws)->receive().value(), "echo:" + binary);
    std::string large(1 << 20, 'z');
    ASSERT_TRUE((*ws)->sendBinary(large));
    EXPECT_EQ((*ws)->receive().value(), "echo:" + large);
    (*ws)->close();
    EXPECT_FALSE((*ws)->receive().ok());
    EXPECT_FALSE((*ws)->sendText("after close"));
  }
}

TEST_F(HttpWebSocketTest, RefusedUpgradeCarriesServerError) {
  start(echoHandler);
  auto missing = unixClient().openWebSocket("/elsewhere");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_EQ(missing.error().message, "no console here");

  auto noToken = tcpClient("").openWebSocket("/ws");
  ASSERT_FALSE(noToken.ok());
  EXPECT_EQ(noToken.error().code, Errc::unauthorized);

  auto wrongToken = tcpClient("tok2").openWebSocket("/ws");
  ASSERT_FALSE(wrongToken.ok());
  EXPECT_EQ(wrongToken.error().code, Errc::unauthorized);
}

TEST_F(HttpWebSocketTest, ConcurrentSendWhileReceivingOnBothSides) {
  constexpr int kCount = 300;
  std::promise<int> serverReceived;
  start([&](const Request&, Exchange& ex) {
    auto ws = ex.acceptWebSocket();
    ASSERT_TRUE(ws);
    // Server: one thread receives while this one sends.
    std::thread reader([&] {
      int n = 0;
      while (auto msg = ws->receive()) {
        if (*msg == "done") break;
        ++n;
      }
      serverReceived.set_value(n);
    });
    for (int i = 0; i < kCount; ++i) ws->sendText("from server " + std::to_string(i));
    ws->sendText("done");
    reader.join();
  });

  auto opened = unixClient().openWebSocket("/ws");
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto& ws = *opened;
  std::atomic<int> clientReceived{0};
  std::thread reader([&] {
    int expect = 0;
    while (auto msg = ws->receive()) {
      if (*msg == "done") break;
      // In-order and intact even though the other side sends concurrently.
      if (*msg == "from server " + std::to_string(expect)) ++expect;
    }
    clientReceived = expect;
  });
  // Two client threads sending at once: sends must serialize, not interleave frames.
  std::thread sender2([&] {
    for (int i = 0; i < kCount / 2; ++i) ws->sendBinary(std::string(1000, 'b'));
  });
  for (int i = 0; i < kCount / 2; ++i) ws->sendText(std::string(3000, 't'));
  sender2.join();
  ws->sendText("done");
  reader.join();
  EXPECT_EQ(clientReceived.load(), kCount);
  auto fut = serverReceived.get_future();
  ASSERT_EQ(fut.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fut.get(), kCount);
  server_.stop();  // the handler uses this frame's locals
}

TEST_F(HttpWebSocketTest, CloseFromAnotherThreadUnblocksReceive) {
  start([](const Request&, Exchange& ex) {
    auto ws = ex.acceptWebSocket();
    if (!ws) return;
    while (ws->receive()) {
    }
  });
  auto ws = unixClient().openWebSocket("/ws");
  ASSERT_TRUE(ws.ok());
  std::promise<bool> result;
  std::thread reader([&] { result.set_value((*ws)->receive().ok()); });
  std::this_thread::sleep_for(50ms);
  auto begin = Clock::now();
  (*ws)->close();
  auto fut = result.get_future();
  ASSERT_EQ(fut.wait_for(3s), std::future_status::ready);
  EXPECT_FALSE(fut.get());
  EXPECT_LT(Clock::now() - begin, 3s);
  reader.join();
}

TEST_F(HttpWebSocketTest, ServerCloseEndsClientReceive) {
  start([](const Request&, Exchange& ex) {
    auto ws = ex.acceptWebSocket();
    if (!ws) return;
    ws->sendText("bye");
    ws->close();
  });
  auto ws = unixClient().openWebSocket("/ws");
  ASSERT_TRUE(ws.ok());
  EXPECT_EQ((*ws)->receive().value(), "bye");
  auto end = (*ws)->receive();
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().code, Errc::unavailable);
}

TEST_F(HttpWebSocketTest, StopIsPromptWithOpenWebSockets) {
  std::atomic<int> accepted{0};
  std::unique_ptr<WebSocket> detached;  // outlives its handler
  start([&](const Request& req, Exchange& ex) {
    auto ws = ex.acceptWebSocket();
    if (!ws) return;
    ++accepted;
    if (req.path == "/detach") {
      detached = std::move(ws);
      return;
    }
    while (ws->receive()) {
    }
  });
  auto a = unixClient().openWebSocket("/ws");
  auto b = tcpClient("tok").openWebSocket("/ws");
  auto c = unixClient().openWebSocket("/detach");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  while (accepted < 3) std::this_thread::sleep_for(5ms);

  auto begin = Clock::now();
  server_.stop();
  EXPECT_LT(Clock::now() - begin, 2s);
  EXPECT_FALSE((*a)->receive().ok());
  EXPECT_FALSE((*b)->receive().ok());
  EXPECT_FALSE((*c)->receive().ok());
  ASSERT_TRUE(detached);
  EXPECT_FALSE(detached->receive().ok());
  detached.reset();
}

TEST_F(HttpWebSocketTest, PlainRequestIsNotAnUpgrade) {
  start(echoHandler);
  auto res = unixClient().request("GET", "/ws");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 400);
}

}  // namespace
}  // namespace paddock::http
