// The API's contract: OpenAPI document, socket permissions, TCP bearer token, events, host info.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <unistd.h>

#include <thread>

#include "common/files.h"
#include "common/subprocess.h"
#include "http/http_client.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

using nlohmann::json;

TEST(Api, OpenApiDocumentsEveryRoute) {
  TestDaemon d;
  auto doc = d.api().call("GET", "/v1/openapi.json");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)["openapi"], "3.0.3");
  for (const char* path : {"/v1/vms", "/v1/vms/{name}", "/v1/vms/{name}/actions/start",
                           "/v1/vms/{name}/console", "/v1/operations/{id}", "/v1/events",
                           "/v1/apply", "/v1/host", "/v1/images/{name}/actions/build"})
    EXPECT_TRUE((*doc)["paths"].contains(path)) << path;
  EXPECT_TRUE((*doc)["paths"]["/v1/vms"].contains("post"));
  EXPECT_FALSE((*doc)["components"]["schemas"]["VmSpec"]["additionalProperties"].get<bool>());
}

TEST(Api, UnixSocketIsOwnerOnly) {
  TestDaemon d;
  struct stat st {};
  ASSERT_EQ(stat(d.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((d.stateDir() + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(Api, TcpListenerRequiresTheBearerToken) {
  TestDaemon d({"--listen", "127.0.0.1:0"});
  // The bound port is in the log line "listening on 127.0.0.1:PORT".
  auto log = readFile(d.stateDir() + ".log");
  ASSERT_TRUE(log.ok());
  auto at = log->find("listening on 127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << *log;
  int port = std::atoi(log->c_str() + at + std::string("listening on 127.0.0.1:").size());
  ASSERT_GT(port, 0);
  std::string token = readFile(d.stateDir() + "/token").value();
  token.pop_back();
  std::string hostPort = "127.0.0.1:" + std::to_string(port);

  http::Client anonymous(http::Endpoint::tcp("127.0.0.1", static_cast<uint16_t>(port)));
  auto denied = anonymous.request("GET", "/v1/vms");
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->status, 401);
  http::Client wrong(http::Endpoint::tcp("127.0.0.1", static_cast<uint16_t>(port)),
                     "not-the-token");
  EXPECT_EQ(wrong.request("GET", "/v1/vms")->status, 401);

  // The CLI works remotely with the token file, including the console websocket.
  std::string tokenFile = d.stateDir() + "/token";
  auto denyCli =
      runCommand({PADDOCK_BIN, "--host", hostPort, "vm", "list"}, std::chrono::seconds(30));
  EXPECT_NE(denyCli->exitCode, 0);
  EXPECT_NE(denyCli->err.find("bearer token"), std::string::npos) << denyCli->err;
  auto created = runCommand({PADDOCK_BIN, "--host", hostPort, "--token-file", tokenFile, "vm",
                             "create", "remote", "--memory", "128M"},
                            std::chrono::seconds(30));
  ASSERT_EQ(created->exitCode, 0) << created->err;
  auto started = runCommand({PADDOCK_BIN, "--host", hostPort, "--token-file", tokenFile, "vm",
                             "start", "remote", "--wait-ready"},
                            std::chrono::seconds(120));
  ASSERT_EQ(started->exitCode, 0) << started->err;
  auto console =
      runCommand({"sh", "-c",
                  std::string("echo 'echo over-tcp-$((3*3))' | ") + PADDOCK_BIN + " --host " +
                      hostPort + " --token-file " + tokenFile + " vm console remote"},
                 std::chrono::seconds(60));
  EXPECT_NE(console->out.find("over-tcp-9"), std::string::npos) << console->out << console->err;
}

TEST(Api, EventStreamFollowsStateChanges) {
  TestDaemon d;
  std::vector<json> events;
  std::thread follower([&] {
    (void)d.api().followEvents(-1, true, [&](const json& e) {
      events.push_back(e);
      return !(e["type"] == "vm.deleted");
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  d.createVm("evt");
  d.startVm("evt");
  ASSERT_EQ(d.cli({"vm", "delete", "evt", "--force"}).code, 0);
  follower.join();
  std::vector<std::string> seen;
  for (const auto& e : events)
    seen.push_back(e["type"].get<std::string>() +
                   (e["data"].contains("state") && e["type"] == "vm.state"
                        ? ":" + e["data"]["state"].get<std::string>()
                        : ""));
  auto has = [&](const std::string& s) {
    return std::find(seen.begin(), seen.end(), s) != seen.end();
  };
  EXPECT_TRUE(has("vm.created"));
  EXPECT_TRUE(has("vm.state:starting"));
  EXPECT_TRUE(has("vm.state:running"));
  EXPECT_TRUE(has("vm.ready"));
  EXPECT_TRUE(has("vm.state:stopped"));
  EXPECT_TRUE(has("vm.deleted"));
}

TEST(Api, HostInfoExplainsTheAcceleratorChoice) {
  TestDaemon d;
  auto r = d.cli({"--json", "host", "info"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto h = r.json();
  EXPECT_GE(h["cpus"].get<int>(), 1);
  EXPECT_NE(h["qemu"].get<std::string>().find("QEMU emulator"), std::string::npos);
  std::string accel = h["accelerator"];
  std::string reason = h["accelerator_reason"];
  EXPECT_FALSE(reason.empty());
  if (access("/dev/kvm", R_OK | W_OK) != 0) {
    EXPECT_EQ(accel, "tcg");
    EXPECT_NE(reason.find("/dev/kvm"), std::string::npos) << reason;
  } else if (accel == "tcg") {
    // These machines: /dev/kvm exists but a guest does not boot under it.
    EXPECT_NE(reason.find("KVM probe failed"), std::string::npos) << reason;
  } else {
    EXPECT_NE(reason.find("KVM probe booted"), std::string::npos) << reason;
  }
  // A VM that insists on KVM where the probe failed is refused with that reason.
  if (accel == "tcg") {
    d.createVm("needs-kvm", {{"accel", "kvm"}});
    auto start = d.cli({"vm", "start", "needs-kvm"});
    EXPECT_NE(start.code, 0);
    EXPECT_NE(start.err.find("asks for KVM"), std::string::npos) << start.err;
  }
}

TEST(Api, OperationsReportProgressAndUnknownOnesAreNotFound) {
  TestDaemon d;
  d.createVm("opvm");
  auto op = d.api().call("POST", "/v1/vms/opvm/actions/start", {{"wait_ready", true}});
  ASSERT_TRUE(op.ok());
  EXPECT_EQ((*op)["status"], "running");
  auto done =
      d.api().call("GET", "/v1/operations/" + std::to_string((*op)["id"].get<int>()) + "?wait=120");
  ASSERT_TRUE(done.ok());
  EXPECT_EQ((*done)["status"], "succeeded");
  EXPECT_EQ((*done)["progress"], 100);
  EXPECT_EQ((*done)["result"]["state"], "running");
  auto missing = d.api().call("GET", "/v1/operations/99999");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

}  // namespace
}  // namespace paddock::test
