#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"
#include "http/http_server.h"

namespace paddock::http {
namespace {

using namespace std::chrono_literals;

std::string makeTempDir() {
  std::string tmpl = "/tmp/paddock-http-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

TEST(HttpEndpoint, ParsesAllSpellings) {
  auto a = Endpoint::parse("unix:/run/paddock/paddockd.sock");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->isTcp());
  EXPECT_EQ(a->path, "/run/paddock/paddockd.sock");
  EXPECT_EQ(a->toString(), "unix:/run/paddock/paddockd.sock");

  auto b = Endpoint::parse("/tmp/x.sock");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->path, "/tmp/x.sock");

  auto c = Endpoint::parse("localhost:7070");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->isTcp());
  EXPECT_EQ(c->host, "localhost");
  EXPECT_EQ(c->port, 7070);

  auto d = Endpoint::parse("http://127.0.0.1:8080/");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "127.0.0.1");
  EXPECT_EQ(d->port, 8080);
  EXPECT_EQ(d->toString(), "127.0.0.1:8080");

  auto e = Endpoint::parse("http://[::1]:9000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->hostHeader(), "[::1]:9000");

  for (const char* bad : {"", "localhost", "host:0", "host:70000", "host:12ab", "https://h:1",
                          "http://h:1/path", "::1:80", "unix:", ":80"}) {
    auto r = Endpoint::parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::invalid_argument);
    }
  }
}

TEST(HttpClient, MissingSocketIsUnavailable) {
  std::string dir = makeTempDir();
  Client client(Endpoint::unixSocket(dir + "/paddockd.sock"));
  auto res = client.request("GET", "/v1/vms");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::unavailable);
  EXPECT_EQ(res.error().message,
            "cannot reach paddockd at unix:" + dir + "/paddockd.sock: No such file or directory");

  auto st = client.stream("GET", "/x", [](std::string_view) { return true; });
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::unavailable);

  auto ws = client.openWebSocket("/x");
  ASSERT_FALSE(ws.ok());
  EXPECT_EQ(ws.error().code, Errc::unavailable);
  std::filesystem::remove_all(dir);
}

TEST(HttpClient, RefusedTcpIsUnavailable) {
  // Grab a free loopback port, then close it so nothing listens there.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  Client client(Endpoint::tcp("127.0.0.1", ntohs(addr.sin_port)), "t");
  auto res = client.request("GET", "/");
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::unavailable);
  EXPECT_NE(res.error().message.find("Connection refused"), std::string::npos)
      << res.error().message;
}

TEST(HttpClient, RejectsTargetsThatWouldBreakTheRequestLine) {
  Client client(Endpoint::unixSocket("/nonexistent.sock"));
  for (const char* bad : {"", "no-slash", "/a b", "/a\r\nX-Evil: 1"}) {
    auto res = client.request("GET", bad);
    ASSERT_FALSE(res.ok());
    EXPECT_EQ(res.error().code, Errc::invalid_argument) << bad;
  }
}

class HttpClientServerTest : public ::testing::Test {
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
    ASSERT_TRUE(server_.listenUnix(path_).ok());
    ASSERT_TRUE(server_.start().ok());
  }
  Client client() const { return Client(Endpoint::parse("unix:" + path_).value()); }

  std::string dir_;
  std::string path_;
  Server server_;
};

TEST_F(HttpClientServerTest, TimeoutWhileServerIsSlow) {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  start([&](const Request&, Exchange& ex) {
    std::unique_lock lock(m);
    cv.wait_for(lock, 5s, [&] { return release; });
    ex.respond(jsonResponse(200, "{}"));
  });
  auto begin = std::chrono::steady_clock::now();
  auto res = client().request("GET", "/slow", "", 200ms);
  auto took = std::chrono::steady_clock::now() - begin;
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  server_.stop();  // the handler uses this frame's locals
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, Errc::timeout);
  EXPECT_LT(took, 2s);
}

TEST_F(HttpClientServerTest, ErrorStatusIsAResponseNotAnError) {
  start([](const Request&, Exchange& ex) {
    ex.respond(errorResponse(makeError(Errc::conflict, "VM 'web' is running")));
  });
  auto res = client().request("DELETE", "/v1/vms/web");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 409);
  auto err = errorFromResponse(*res);
  EXPECT_EQ(err.code, Errc::conflict);
  EXPECT_EQ(err.message, "VM 'web' is running");
}

TEST_F(HttpClientServerTest, PlainResponseToStreamIsDeliveredWhole) {
  start([](const Request&, Exchange& ex) { ex.respond(jsonResponse(200, "[1,2,3]")); });
  std::string got;
  int calls = 0;
  auto st = client().stream("GET", "/", [&](std::string_view c) {
    ++calls;
    got += c;
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, "[1,2,3]");
}

TEST_F(HttpClientServerTest, ConcurrentRequestsFromOneClient) {
  start([](const Request& req, Exchange& ex) {
    std::this_thread::sleep_for(20ms);
    ex.respond(jsonResponse(200, "\"" + req.path + "\""));
  });
  auto c = client();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto res = c.request("GET", "/n" + std::to_string(i));
      if (res.ok() && res->body == "\"/n" + std::to_string(i) + "\"") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
}

}  // namespace
}  // namespace paddock::http
