#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/http_client.h"
#include "http/http_server.h"
#include "http/url.h"

namespace paddock::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string makeTempDir() {
  std::string tmpl = "/tmp/paddock-http-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

// Opens a raw unix-socket connection, for sending bytes no well-behaved client would.
int connectUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void writeAll(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

// Reads until EOF (or 5 s of silence).
std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = makeTempDir();
    socketPath_ = dir_ + "/paddockd.sock";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  void startServer(Server::Handler handler) {
    server_ = std::make_unique<Server>();
    server_->setHandler(std::move(handler));
    ASSERT_TRUE(server_->listenUnix(socketPath_).ok());
    server_->setTcpAuthToken("s3cret-token");
    auto port = server_->listenTcp("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.error().message;
    tcpPort_ = *port;
    ASSERT_TRUE(server_->start().ok());
  }

  Client unixClient() const { return Client(Endpoint::unixSocket(socketPath_)); }
  Client tcpClient(std::string token) const {
    return Client(Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(tcpPort_)),
                  std::move(token));
  }

  std::string dir_;
  std::string socketPath_;
  int tcpPort_ = 0;
  std::unique_ptr<Server> server_;
};

Server::Handler echoHandler() {
  return [](const Request& req, Exchange& ex) {
    nlohmann::json out;
    out["method"] = req.method;
    out["path"] = req.path;
    out["query"] = req.query;
    out["peer"] = req.peer;
    out["custom"] = req.headers.count("x-custom") ? req.headers.at("x-custom") : "";
    out["body"] = req.body.empty() ? nlohmann::json() : nlohmann::json::parse(req.body);
    Response res;
    res.status = 201;
    res.body = out.dump();
    res.headers.emplace_back("X-Reply", "yes");
    ex.respond(std::move(res));
  };
}

TEST_F(HttpServerTest, JsonRoundTripOverUnixSocket) {
  startServer(echoHandler());
  auto res = unixClient().request("POST", "/v1/vms/my%20vm?x=1&name=a+b%21&flag",
                                  R"({"cpus":2,"name":"web"})");
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 201);
  EXPECT_EQ(res->contentType, "application/json");
  auto j = nlohmann::json::parse(res->body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/v1/vms/my vm");
  EXPECT_EQ(j["query"]["x"], "1");
  EXPECT_EQ(j["query"]["name"], "a b!");
  EXPECT_EQ(j["query"]["flag"], "");
  EXPECT_EQ(j["peer"], "unix");
  EXPECT_EQ(j["body"]["cpus"], 2);
  bool sawReply = false;
  for (auto& [k, v] : res->headers) sawReply |= (k == "x-reply" && v == "yes");
  EXPECT_TRUE(sawReply);
}

TEST_F(HttpServerTest, SocketFileIsPrivateAndRemovedOnStop) {
  startServer(echoHandler());
  struct stat st {};
  ASSERT_EQ(::lstat(socketPath_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // No temporary directory left behind next to the socket.
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
  server_->stop();
  EXPECT_NE(::lstat(socketPath_.c_str(), &st), 0);
}

TEST_F(HttpServerTest, StaleSocketIsReplacedLiveOneAndRegularFileAreNot) {
  {
    // A socket file nobody listens on, as left by a crashed daemon.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socketPath_.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  startServer(echoHandler());
  EXPECT_TRUE(unixClient().request("GET", "/").ok());

  Server second;
  auto live = second.listenUnix(socketPath_);
  ASSERT_FALSE(live.ok());
  EXPECT_EQ(live.error().code, Errc::conflict);

  std::string regular = dir_ + "/not-a-socket";
  {
    std::FILE* f = std::fopen(regular.c_str(), "w");
    std::fclose(f);
  }
  auto refused = second.listenUnix(regular);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::conflict);
  EXPECT_TRUE(std::filesystem::is_regular_file(regular));
}

TEST_F(HttpServerTest, TcpRequiresBearerToken) {
  std::atomic<int> calls{0};
  startServer([&](const Request& req, Exchange& ex) {
    ++calls;
    ex.respond(jsonResponse(200, nlohmann::json{{"peer", req.peer}}.dump()));
  });
  const std::string unauthorized =
      R"({"error":{"code":"unauthorized","message":"missing or wrong bearer token"}})";

  auto none = tcpClient("").request("GET", "/v1/vms");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body, unauthorized);

  auto wrong = tcpClient("s3cret-tokeX").request("GET", "/v1/vms");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(wrong->body, unauthorized);

  auto prefix = tcpClient("s3cret").request("GET", "/v1/vms");
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->status, 401);
  EXPECT_EQ(calls.load(), 0);

  auto right = tcpClient("s3cret-token").request("GET", "/v1/vms");
  ASSERT_TRUE(right.ok());
  EXPECT_EQ(right->status, 200);
  auto peer = nlohmann::json::parse(right->body)["peer"].get<std::string>();
  EXPECT_EQ(peer.rfind("tcp:127.0.0.1:", 0), 0u) << peer;
  EXPECT_EQ(calls.load(), 1);

  // The unix socket's file mode is its authentication.
  auto local = unixClient().request("GET", "/v1/vms");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->status, 200);
  server_->stop();  // the handler uses this frame's locals
}

TEST_F(HttpServerTest, TcpWithoutConfiguredTokenRefusesEverything) {
  Server server;
  server.setHandler([](const Request&, Exchange& ex) { ex.respond(jsonResponse(200, "{}")); });
  auto port = server.listenTcp("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  ASSERT_TRUE(server.start().ok());
  Client client(Endpoint::tcp("127.0.0.1", static_cast<std::uint16_t>(*port)), "");
  auto res = client.request("GET", "/");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 401);
}

TEST_F(HttpServerTest, StreamChunksArriveWhileHandlerIsStillRunning) {
  std::mutex m;
  std::condition_variable cv;
  bool clientSawFirst = false;
  std::atomic<bool> handlerWaitedInVain{false};
  startServer([&](const Request&, Exchange& ex) {
    ASSERT_TRUE(ex.beginStream(200, "application/x-ndjson"));
    ASSERT_TRUE(ex.writeChunk("{\"n\":0}\n"));
    {
      // Only the client seeing chunk 0 lets us go on; if it were buffered we'd time out.
      std::unique_lock lock(m);
      if (!cv.wait_for(lock, 5s, [&] { return clientSawFirst; })) handlerWaitedInVain = true;
    }
    ex.writeChunk("{\"n\":1}\n");
    ex.writeChunk(std::string(100000, 'x'));
    ex.endStream();
  });
  std::vector<std::string> chunks;
  auto status = unixClient().stream("GET", "/v1/events", [&](std::string_view chunk) {
    chunks.emplace_back(chunk);
    if (chunks.size() == 1) {
      std::lock_guard lock(m);
      clientSawFirst = true;
      cv.notify_all();
    }
    return true;
  });
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_FALSE(handlerWaitedInVain.load());
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0], "{\"n\":0}\n");
  EXPECT_EQ(chunks[1], "{\"n\":1}\n");
  EXPECT_EQ(chunks[2], std::string(100000, 'x'));
  server_->stop();  // the handler uses this frame's locals
}

TEST_F(HttpServerTest, StreamOverTcpAndEarlyStopByClient) {
  std::atomic<bool> handlerSawGone{false};
  startServer([&](const Request&, Exchange& ex) {
    ex.beginStream(200, "text/plain");
    for (int i = 0; i < 2000; ++i) {
      if (!ex.writeChunk("line " + std::to_string(i) + "\n")) {
        handlerSawGone = true;
        return;
      }
      std::this_thread::sleep_for(1ms);
    }
    ex.endStream();
  });
  int seen = 0;
  auto status = tcpClient("s3cret-token").stream("GET", "/logs", [&](std::string_view) {
    return ++seen < 3;
  });
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(seen, 3);
  server_->stop();  // joins the handler
  EXPECT_TRUE(handlerSawGone.load());
}

TEST_F(HttpServerTest, StreamErrorStatusBecomesError) {
  startServer([](const Request&, Exchange& ex) {
    ex.respond(errorResponse(makeError(Errc::not_found, "no such VM 'x'", "name")));
  });
  auto status = unixClient().stream("GET", "/v1/vms/x/logs", [](std::string_view) { return true; });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::not_found);
  EXPECT_EQ(status.error().message, "no such VM 'x'");
  EXPECT_EQ(status.error().field, "name");
}

TEST_F(HttpServerTest, StopIsPromptWithOpenStreamAndIdleConnection) {
  std::atomic<bool> streaming{false};
  startServer([&](const Request&, Exchange& ex) {
    ex.beginStream(200, "text/plain");
    while (ex.writeChunk("tick\n")) {
      streaming = true;
      std::this_thread::sleep_for(10ms);
    }
  });
  int idle = connectUnix(socketPath_);  // connected, never sends a byte
  ASSERT_GE(idle, 0);
  Status streamResult;
  std::thread client([&] {
    streamResult = unixClient().stream("GET", "/follow", [](std::string_view) { return true; });
  });
  while (!streaming) std::this_thread::sleep_for(5ms);
  auto begin = Clock::now();
  server_->stop();
  auto took = Clock::now() - begin;
  EXPECT_LT(took, 2s);
  client.join();
  EXPECT_FALSE(streamResult.ok());  // cut off mid-stream
  EXPECT_EQ(readAll(idle), "");
  ::close(idle);
}

TEST_F(HttpServerTest, GarbageGets400) {
  startServer(echoHandler());
  int fd = connectUnix(socketPath_);
  ASSERT_GE(fd, 0);
  writeAll(fd, "GARBAGE\x01\x02 nonsense\r\n\r\n");
  auto reply = readAll(fd);
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply;
  EXPECT_NE(reply.find("\"invalid_argument\""), std::string::npos);
}

TEST_F(HttpServerTest, OversizeBodyGets413) {
  startServer(echoHandler());
  auto res = unixClient().request("POST", "/v1/images", std::string(9 * 1024 * 1024, 'a'));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 413);

  // Declared length alone is enough to refuse, without waiting for the body.
  int fd = connectUnix(socketPath_);
  ASSERT_GE(fd, 0);
  writeAll(fd, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
  auto reply = readAll(fd);
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;

  // Exactly at the limit is fine.
  std::string big = "\"" + std::string(Server::kMaxBodyBytes - 2, 'b') + "\"";
  auto ok = unixClient().request("POST", "/v1/images", big);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 201);
}

TEST_F(HttpServerTest, HandlerThatDoesNotRespondOrThrowsGives500) {
  startServer([](const Request& req, Exchange&) {
    if (req.path == "/throw") throw std::runtime_error("boom");
  });
  for (const char* path : {"/silent", "/throw"}) {
    auto res = unixClient().request("GET", path);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res->status, 500) << path;
    EXPECT_EQ(errorFromResponse(*res).code, Errc::internal);
  }
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  startServer([](const Request& req, Exchange& ex) {
    Response res;
    res.contentType = "text/plain";
    res.body = "you asked for " + req.path;
    ex.respond(std::move(res));
  });
  int fd = connectUnix(socketPath_);
  ASSERT_GE(fd, 0);
  writeAll(fd,
           "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto reply = readAll(fd);
  ::close(fd);
  EXPECT_NE(reply.find("you asked for /a"), std::string::npos) << reply;
  EXPECT_NE(reply.find("you asked for /b"), std::string::npos) << reply;
}

TEST_F(HttpServerTest, BadPercentEncodingGets400) {
  startServer(echoHandler());
  auto res = unixClient().request("GET", "/v1/vms/%zz");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 400);
}

TEST(HttpServerLifecycle, StartAfterStopFailsAndStopIsIdempotent) {
  Server server;
  ASSERT_TRUE(server.start().ok());
  server.stop();
  server.stop();
  EXPECT_FALSE(server.start().ok());
  EXPECT_FALSE(server.listenTcp("127.0.0.1", 0).ok());
}

TEST(HttpServerLifecycle, RejectsBadTcpAddress) {
  Server server;
  auto r = server.listenTcp("not-an-ip", 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace paddock::http
