// The web-hosting workload's server side (guest/debian/workloads/web-serve.sh: a private nginx
// and web-dynamic.c) on this host, driven by the real load generator (bench/web_load.h). The
// same script runs in the debian guest image; nginx comes from scripts/setup.sh (nginx-light).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "bench/web_load.h"
#include "common/net_port.h"
#include "common/subprocess.h"

namespace paddock::bench {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const std::string kScript =
    std::string(PADDOCK_SOURCE_DIR) + "/guest/debian/workloads/web-serve.sh";

// Binds (and keeps) a socket on 127.0.0.1:port; -1 when the port is taken.
int bindPort(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// Sends `request` (which asks for Connection: close) to 127.0.0.1:port and returns all of the
// answer.
std::string roundTrip(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    for (ssize_t got; (got = read(fd, buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<std::size_t>(got));
  }
  close(fd);
  return out;
}

std::string get(int port, const std::string& path, const std::string& headers = "") {
  return roundTrip(port, fmt::format("GET {} HTTP/1.1\r\nHost: test\r\n{}Connection: close\r\n\r\n",
                                     path, headers));
}

// Alive and not a zombie (reparented processes may wait a while for init to reap them).
bool alive(pid_t pid) {
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] != 'Z';
}

pid_t readPid(const std::string& file) {
  std::ifstream in(file);
  pid_t pid = -1;
  in >> pid;
  return pid;
}

// `pid` and its children (nginx's workers, web-dynamic's).
std::set<pid_t> processTree(pid_t pid) {
  std::set<pid_t> out{pid};
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream status(entry.path() / "status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("PPid:", 0) == 0 && std::stoi(line.substr(5)) == pid)
        out.insert(std::stoi(name));
  }
  return out;
}

std::string nginxBinary() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

class WebServe : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(nginxBinary(), "")
        << "nginx is not installed: the web-hosting workload needs it (scripts/setup.sh installs "
           "nginx-light)";
    char tmpl[] = "/tmp/paddock-web-serve-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    dir_ = tmp_ + "/srv";  // does not exist yet: start makes it
    auto port = freeTcpPorts("0.0.0.0", 2);
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    (void)runCommand({kScript, "stop", dir_}, std::chrono::seconds(60));
    fs::remove_all(tmp_);
  }

  Result<CommandOutput> start() {
    return runCommand({kScript, "start", dir_, std::to_string(port_)}, std::chrono::minutes(2));
  }

  std::string tmp_, dir_;
  int port_ = 0;
};

TEST_F(WebServe, ServesTheWholeMixWithoutErrorsAndStopsWithoutATrace) {
  auto started = start();
  ASSERT_TRUE(started);
  ASSERT_EQ(started->exitCode, 0) << started->err;
  EXPECT_EQ(started->out, fmt::format("WEB-READY {}\n", port_));
  for (const auto& f : staticFiles())
    EXPECT_EQ(fs::file_size(dir_ + "/www" + f.path), f.bytes) << f.path;

  std::set<pid_t> pids = processTree(readPid(dir_ + "/nginx.pid"));
  std::set<pid_t> dynamic = processTree(readPid(dir_ + "/web-dynamic.pid"));
  EXPECT_GE(pids.size(), 2u) << "an nginx master and its workers";
  EXPECT_GE(dynamic.size(), 2u) << "web-dynamic and its workers";
  pids.insert(dynamic.begin(), dynamic.end());

  WebLoadOptions o;
  o.servers = {{"127.0.0.1", port_, "native"}};
  o.connectionsPerServer = 4;
  o.warmup = milliseconds(500);
  o.duration = milliseconds(3000);
  auto r = runWebLoad(o);
  ASSERT_TRUE(r) << r.error().message;
  const WebLoadStats& t = r->total;
  EXPECT_EQ(t.errors, 0u) << t.firstError;
  EXPECT_GT(t.requestsPerSecond, 0);
  EXPECT_GT(t.withinDeadline, 0);
  EXPECT_LE(t.withinDeadline, 1);
  for (const auto& e : webMixTable())
    EXPECT_GT(t.byKind[static_cast<std::size_t>(e.kind)], 0u) << e.name;
  std::ifstream log(dir_ + "/registrations.log");
  EXPECT_GE(std::count(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>(), '\n'),
            static_cast<long>(t.byKind[static_cast<std::size_t>(WebKind::post)]))
      << "every registration is written down";
  std::cout << fmt::format(
      "[ measured ] native nginx, 4 connections, 3 s: {:.0f} requests/s, "
      "{:.4f} within 300 ms, p50 {:.2f} ms, p99 {:.2f} ms\n",
      t.requestsPerSecond, t.withinDeadline, t.p50Ms, t.p99Ms);

  auto stopped = runCommand({kScript, "stop", dir_}, std::chrono::seconds(60));
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->exitCode, 0) << stopped->err;
  for (pid_t pid : pids) EXPECT_FALSE(alive(pid)) << "pid " << pid << " outlived stop";
  EXPECT_FALSE(accepts(port_));
  EXPECT_FALSE(accepts(port_ + 1));
  EXPECT_FALSE(fs::exists(dir_));
  auto again = runCommand({kScript, "stop", dir_}, std::chrono::seconds(60));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->exitCode, 0) << "stop is idempotent: " << again->err;
}

// What the dynamic handler answers, through nginx and straight.
TEST_F(WebServe, DynamicPagesDoTheirWorkAndRefuseWhatTheyDoNotKnow) {
  auto started = start();
  ASSERT_TRUE(started);
  ASSERT_EQ(started->exitCode, 0) << started->err;

  std::string ad = get(port_, "/ad?banner=2");
  EXPECT_EQ(ad.rfind("HTTP/1.1 200", 0), 0u) << ad;
  EXPECT_NE(ad.find("Set-Cookie: ad=2"), std::string::npos) << ad;
  EXPECT_NE(ad.find("Banner 3 of 3"), std::string::npos) << ad;

  std::string cookie = get(port_, "/cookie", "Cookie: ad=1; user=alice42\r\n");
  EXPECT_NE(cookie.find("Welcome back, alice42."), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("Set-Cookie: visit="), std::string::npos) << cookie;
  EXPECT_LT(cookie.size(), 1024u);

  std::string form = "name=bob&email=bob%40example.test";
  std::string posted =
      roundTrip(port_, fmt::format("POST /register HTTP/1.1\r\nHost: test\r\nContent-Type: "
                                   "application/x-www-form-urlencoded\r\nContent-Length: {}\r\n"
                                   "Connection: close\r\n\r\n{}",
                                   form.size(), form));
  EXPECT_NE(posted.find("Welcome, bob"), std::string::npos) << posted;
  std::ifstream log(dir_ + "/registrations.log");
  std::string line;
  std::getline(log, line);
  EXPECT_NE(line.find(" bob bob%40example.test"), std::string::npos) << line;

  std::string cgi = get(port_, "/cgi-bin/page");
  EXPECT_NE(cgi.find("Generated at "), std::string::npos) << cgi;
  EXPECT_NE(cgi.find("Content-Length: "), std::string::npos) << cgi;
  EXPECT_EQ(cgi.find("chunked"), std::string::npos) << cgi;

  EXPECT_EQ(get(port_, "/nothing/here").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(get(port_ + 1, "/nothing/here").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(get(port_ + 1, "/ad?banner=7").rfind("HTTP/1.1 404", 0), 0u);
  EXPECT_EQ(roundTrip(port_ + 1, "NONSENSE\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  EXPECT_EQ(roundTrip(port_ + 1, "POST /register HTTP/1.1\r\nContent-Length: x\r\n\r\n")
                .rfind("HTTP/1.1 400", 0),
            0u);
}

TEST_F(WebServe, AStartThatFailsSaysWhyInOneLineAndLeavesNothingRunning) {
  int taken = bindPort(port_ + 1);
  ASSERT_GE(taken, 0);
  ASSERT_EQ(listen(taken, 1), 0);
  auto started = start();
  close(taken);
  ASSERT_TRUE(started);
  EXPECT_NE(started->exitCode, 0);
  EXPECT_EQ(started->out, "");
  EXPECT_NE(started->err.find("in use"), std::string::npos) << started->err;
  EXPECT_EQ(std::count(started->err.begin(), started->err.end(), '\n'), 1) << started->err;
  EXPECT_FALSE(fs::exists(dir_ + "/nginx.pid"));
  EXPECT_FALSE(fs::exists(dir_ + "/web-dynamic.pid"));
  EXPECT_FALSE(accepts(port_));

  auto stray = start();  // a later start in the same directory works
  ASSERT_TRUE(stray);
  EXPECT_EQ(stray->exitCode, 0) << stray->err;
}

TEST_F(WebServe, StopRefusesToRemoveADirectoryItDidNotMake) {
  fs::create_directories(tmp_ + "/precious");
  std::ofstream(tmp_ + "/precious/data") << "keep me";
  auto stopped = runCommand({kScript, "stop", tmp_ + "/precious"});
  ASSERT_TRUE(stopped);
  EXPECT_NE(stopped->exitCode, 0);
  EXPECT_TRUE(fs::exists(tmp_ + "/precious/data"));
  auto started = runCommand({kScript, "start", tmp_ + "/precious", std::to_string(port_)});
  ASSERT_TRUE(started);
  EXPECT_NE(started->exitCode, 0);
  EXPECT_NE(started->err.find("not a web-serve directory"), std::string::npos) << started->err;
}

}  // namespace
}  // namespace paddock::bench
