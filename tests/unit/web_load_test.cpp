// The web-hosting workload's load generator (bench/web_load.h) against a small HTTP server in
// the test: what it counts, the mix it asks for, and that broken servers become errors, not hangs.
#include "bench/web_load.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace paddock::bench {
namespace {

using std::chrono::milliseconds;

enum class Behaviour {
  correct,
  wrongStaticSize,  // /static/class1_4 is one byte short
  chunkedCookie,    // /cookie answers with Transfer-Encoding: chunked
  closeOnAccept,    // closes every connection as soon as it is accepted
  neverAnswer,      // reads requests and answers none
};

constexpr const char* kShortFile = "/static/class1_4";

// An HTTP/1.1 keep-alive server on 127.0.0.1 with a canned answer per path of the mix, a thread
// per connection. It counts what the requests carried, to check what the client sends.
class CannedServer {
 public:
  explicit CannedServer(Behaviour b = Behaviour::correct) : behaviour_(b) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listener_, 64), 0);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    for (const auto& f : staticFiles()) {
      std::size_t bytes = f.bytes - (b == Behaviour::wrongStaticSize && f.path == kShortFile);
      static_[f.path] = answer(std::string(bytes, 'x'));
    }
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~CannedServer() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    close(listener_);
    {
      std::lock_guard lock(mu_);
      for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : connections_) t.join();
    for (int fd : fds_) close(fd);
  }

  int port() const { return port_; }
  WebServer server(std::string name = "canned") const { return {"127.0.0.1", port_, name}; }
  std::uint64_t answered() const { return answered_; }
  std::uint64_t cookieGets() const { return cookieGets_; }
  std::uint64_t cookieGetsWithoutCookie() const { return cookieGetsWithoutCookie_; }
  std::uint64_t formPosts() const { return formPosts_; }
  std::uint64_t requestsWithoutHost() const { return requestsWithoutHost_; }

 private:
  static std::string answer(const std::string& body, int status = 200) {
    return "HTTP/1.1 " + std::to_string(status) +
           " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  void acceptLoop() {
    while (!stopping_) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      if (behaviour_ == Behaviour::closeOnAccept) {
        close(fd);
        continue;
      }
      std::lock_guard lock(mu_);
      fds_.push_back(fd);
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  std::string answerFor(const std::string& method, const std::string& path, const std::string& head,
                        const std::string& body) {
    if (head.find("\r\nHost: 127.0.0.1:" + std::to_string(port_) + "\r\n") == std::string::npos)
      ++requestsWithoutHost_;
    if (auto s = static_.find(path); s != static_.end() && method == "GET") return s->second;
    if (method == "POST" && path == "/register") {
      if (body.find("name=") != std::string::npos) ++formPosts_;
      return answer("<p>registered</p>");
    }
    if (method == "GET" && path == "/cookie") {
      ++cookieGets_;
      if (head.find("\r\nCookie: user=") == std::string::npos) ++cookieGetsWithoutCookie_;
      if (behaviour_ == Behaviour::chunkedCookie)
        return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
      return answer("<p>cookie</p>");
    }
    if (method == "GET" && (path.rfind("/ad?banner=", 0) == 0 || path == "/cgi-bin/page"))
      return answer("<p>dynamic</p>");
    return answer("not found", 404);
  }

  void serve(int fd) {
    std::string in;
    char buf[65536];
    auto fill = [&] {
      ssize_t got = read(fd, buf, sizeof buf);
      if (got <= 0) return false;
      in.append(buf, static_cast<std::size_t>(got));
      return true;
    };
    for (;;) {
      std::size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos)
        if (!fill()) return;
      std::string head = in.substr(0, end + 4);
      std::size_t length = 0;
      if (auto cl = head.find("Content-Length: "); cl != std::string::npos)
        length = std::stoul(head.substr(cl + 16));
      while (in.size() < end + 4 + length)
        if (!fill()) return;
      std::string body = in.substr(end + 4, length);
      in.erase(0, end + 4 + length);
      if (behaviour_ == Behaviour::neverAnswer) continue;
      std::size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
      std::string out =
          answerFor(head.substr(0, sp1), head.substr(sp1 + 1, sp2 - sp1 - 1), head, body);
      for (std::size_t sent = 0; sent < out.size();) {
        ssize_t put = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (put <= 0) return;
        sent += static_cast<std::size_t>(put);
      }
      ++answered_;
    }
  }

  Behaviour behaviour_;
  int listener_ = -1;
  int port_ = 0;
  std::map<std::string, std::string> static_;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> connections_;
  std::atomic<std::uint64_t> answered_{0}, cookieGets_{0}, cookieGetsWithoutCookie_{0},
      formPosts_{0}, requestsWithoutHost_{0};
};

// A port on 127.0.0.1 that nothing listens on.
int closedPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

WebLoadOptions quick(std::vector<WebServer> servers, milliseconds duration = milliseconds(500)) {
  WebLoadOptions o;
  o.servers = std::move(servers);
  o.warmup = milliseconds(100);
  o.duration = duration;
  return o;
}

std::uint64_t sum(const std::array<std::uint64_t, kWebKinds>& counts) {
  return std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
}

TEST(WebLoad, UnusableOptionsAreRefusedNamingTheField) {
  WebServer good{"127.0.0.1", 8080, "a"};
  auto refused = [](const WebLoadOptions& o, const std::string& field) {
    auto r = runWebLoad(o);
    ASSERT_FALSE(r) << field;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << field;
    EXPECT_EQ(r.error().field, field);
    EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
  };
  refused(quick({}), "servers");
  WebLoadOptions o = quick({good});
  o.connectionsPerServer = 0;
  refused(o, "connectionsPerServer");
  o = quick({good}, milliseconds(0));
  refused(o, "duration");
  o = quick({good});
  o.warmup = milliseconds(-1);
  refused(o, "warmup");
  o = quick({good});
  o.deadline = milliseconds(0);
  refused(o, "deadline");
  o = quick({good});
  o.requestTimeout = milliseconds(0);
  refused(o, "requestTimeout");
  refused(quick({good, {"127.0.0.1", 0, "b"}}), "servers[1].port");
  refused(quick({good, {"127.0.0.1", 65536, "b"}}), "servers[1].port");
  refused(quick({{"", 8080, "a"}}), "servers[0].host");
  refused(quick({{"no-such-host.invalid", 8080, "a"}}), "servers[0].host");
}

// Over 10,000 and more answers, each kind's share is Table 2's within 1 %; every answer of the
// window is counted once, by kind, and warm-up answers are not.
TEST(WebLoad, CountsEveryAnswerOfTheWindowAndAsksForTable2sMix) {
  CannedServer server;
  WebLoadOptions o = quick({server.server()}, milliseconds(2000));
  o.warmup = milliseconds(300);
  auto r = runWebLoad(o);
  ASSERT_TRUE(r) << r.error().message;
  const WebLoadStats& t = r->total;
  EXPECT_EQ(t.errors, 0u) << t.firstError;
  ASSERT_GE(t.requests, 10'000u) << "too few answers for the shares to mean anything";
  EXPECT_EQ(sum(t.byKind), t.requests);
  for (const auto& e : webMixTable()) {
    double share = static_cast<double>(t.byKind[static_cast<std::size_t>(e.kind)]) /
                   static_cast<double>(t.requests);
    EXPECT_NEAR(share, e.weight / 10'000.0, 0.01) << e.name;
  }
  EXPECT_GT(server.answered(), t.requests) << "the warm-up's answers were counted";
  EXPECT_NEAR(t.requestsPerSecond, static_cast<double>(t.requests) / 2.0, 1e-6);
  EXPECT_DOUBLE_EQ(r->seconds, 2.0);
  EXPECT_GT(t.withinDeadline, 0.9);
  EXPECT_LE(t.withinDeadline, 1.0);
  EXPECT_GT(t.p50Ms, 0);
  EXPECT_LE(t.p50Ms, t.p90Ms);
  EXPECT_LE(t.p90Ms, t.p99Ms);
  ASSERT_EQ(r->servers.size(), 1u);
  EXPECT_EQ(r->servers[0].server.name, "canned");
  EXPECT_EQ(r->servers[0].stats.requests, t.requests);

  EXPECT_EQ(server.requestsWithoutHost(), 0u);
  EXPECT_GT(server.cookieGets(), 0u);
  EXPECT_EQ(server.cookieGetsWithoutCookie(), 0u);
  EXPECT_GT(server.formPosts(), 0u);
}

TEST(WebLoad, EachServerIsCountedOnItsOwnAndInTheTotal) {
  CannedServer a, b;
  auto r = runWebLoad(quick({a.server("a"), b.server("b")}));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->servers.size(), 2u);
  EXPECT_GT(r->servers[0].stats.requests, 0u);
  EXPECT_GT(r->servers[1].stats.requests, 0u);
  EXPECT_EQ(r->servers[0].stats.requests + r->servers[1].stats.requests, r->total.requests);
  EXPECT_EQ(r->total.errors, 0u) << r->total.firstError;

  nlohmann::json j = toJson(*r);
  EXPECT_EQ(j["total"]["requests"].get<std::uint64_t>(), r->total.requests);
  EXPECT_EQ(j["servers"][1]["name"], "b");
  EXPECT_EQ(j["servers"][1]["port"].get<int>(), b.port());
  EXPECT_EQ(j["deadline_ms"].get<int>(), 300);
  EXPECT_EQ(j["total"]["by_kind"].size(), kWebKinds);
  EXPECT_EQ(j["total"]["by_kind"]["static_medium"].get<std::uint64_t>(),
            r->total.byKind[static_cast<std::size_t>(WebKind::staticMedium)]);
  EXPECT_TRUE(j["total"]["latency_ms"].contains("p99"));
}

TEST(WebLoad, AStaticFileOfTheWrongSizeIsAnError) {
  CannedServer server(Behaviour::wrongStaticSize);
  auto r = runWebLoad(quick({server.server()}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(r->total.errors, 0u);
  EXPECT_NE(r->total.firstError.find(kShortFile), std::string::npos) << r->total.firstError;
  EXPECT_GT(r->total.requests, 0u) << "the other files were answered correctly";
  EXPECT_LT(r->total.withinDeadline, 1.0);
}

TEST(WebLoad, AChunkedAnswerIsAnErrorThatSaysSo) {
  CannedServer server(Behaviour::chunkedCookie);
  auto r = runWebLoad(quick({server.server()}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(r->total.errors, 0u);
  EXPECT_NE(r->total.firstError.find("chunked"), std::string::npos) << r->total.firstError;
  EXPECT_EQ(r->total.byKind[static_cast<std::size_t>(WebKind::cookieGet)], 0u);
}

TEST(WebLoad, AServerThatClosesEveryConnectionGivesErrorsWithoutHanging) {
  CannedServer server(Behaviour::closeOnAccept);
  auto start = std::chrono::steady_clock::now();
  auto r = runWebLoad(quick({server.server()}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));
  EXPECT_EQ(r->total.requests, 0u);
  EXPECT_GT(r->total.errors, 0u);
  EXPECT_NE(r->total.firstError.find("closed"), std::string::npos) << r->total.firstError;
  EXPECT_EQ(r->total.withinDeadline, 0);
}

// The refused server's requests are errors; the other server is measured as if alone.
TEST(WebLoad, ARefusedConnectionIsAnErrorOfThatServerOnly) {
  CannedServer up;
  auto start = std::chrono::steady_clock::now();
  auto r = runWebLoad(quick({{"127.0.0.1", closedPort(), "down"}, up.server("up")}));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));
  const WebLoadStats& down = r->servers[0].stats;
  EXPECT_EQ(down.requests, 0u);
  EXPECT_GT(down.errors, 0u);
  EXPECT_NE(down.firstError.find("connect"), std::string::npos) << down.firstError;
  EXPECT_EQ(r->servers[1].stats.errors, 0u) << r->servers[1].stats.firstError;
  EXPECT_GT(r->servers[1].stats.requests, 0u);
  EXPECT_EQ(r->total.errors, down.errors);
  EXPECT_EQ(r->total.firstError.rfind("down: ", 0), 0u) << r->total.firstError;
}

TEST(WebLoad, ARequestWithoutAnswerTimesOutAsAnError) {
  CannedServer server(Behaviour::neverAnswer);
  WebLoadOptions o = quick({server.server()}, milliseconds(800));
  o.requestTimeout = milliseconds(200);
  auto r = runWebLoad(o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->total.requests, 0u);
  EXPECT_GT(r->total.errors, 0u);
  EXPECT_NE(r->total.firstError.find("within 200 ms"), std::string::npos) << r->total.firstError;
}

}  // namespace
}  // namespace paddock::bench
