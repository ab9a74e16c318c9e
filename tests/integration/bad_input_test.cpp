// Bad input gets a 4xx naming the problem (or one CLI error line) and changes nothing.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "http/http_client.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

using nlohmann::json;

class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<TestDaemon>();
    d_->createVm("existing", {{"description", "kept"}});
    d_->createVm("runner");
    d_->startVm("runner");
    runnerPid_ = d_->vm("runner")["runtime"]["pid"].get<pid_t>();
    before_ = snapshot();
  }
  void TearDown() override {
    // Nothing changed: same VMs with the same specs, and the running VM still runs.
    EXPECT_EQ(snapshot(), before_);
    EXPECT_TRUE(processAlive(runnerPid_));
    EXPECT_EQ(d_->vm("runner")["runtime"]["pid"].get<pid_t>(), runnerPid_);
  }
  json snapshot() {
    auto r = d_->api().call("GET", "/v1/vms");
    json out = json::array();
    for (auto v : (*r)["vms"]) {
      v["runtime"].erase("state_since_ms");
      out.push_back(v);
    }
    return out;
  }
  // Sends a raw request; expects `status` and an error message containing `words`.
  void expectRejected(const std::string& method, const std::string& path, const std::string& body,
                      int status, const std::string& words, const std::string& field = "") {
    http::Client client(http::Endpoint::unixSocket(d_->socket()));
    auto resp = client.request(method, path, body);
    ASSERT_TRUE(resp.ok()) << resp.error().message;
    EXPECT_EQ(resp->status, status) << method << " " << path << " " << body << " → " << resp->body;
    auto j = json::parse(resp->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << resp->body;
    std::string message = j["error"].value("message", "");
    EXPECT_NE(message.find(words), std::string::npos) << "message: " << message;
    if (!field.empty()) {
      EXPECT_EQ(j["error"].value("field", ""), field) << resp->body;
    }
  }
  std::unique_ptr<TestDaemon> d_;
  pid_t runnerPid_ = 0;
  json before_;
};

json vmBody(json overrides) {
  json spec = {{"name", "newvm"}, {"memory_mib", 128}, {"image", "tiny"}};
  spec.update(overrides);
  return spec;
}

TEST_F(BadInput, MalformedJsonIsRefused) {
  expectRejected("POST", "/v1/vms", "{\"name\": \"x\",", 400, "malformed JSON");
  expectRejected("POST", "/v1/vms", "[1,2]", 400, "JSON object");
}

TEST_F(BadInput, UnknownFieldsAndWrongTypesAreNamed) {
  expectRejected("POST", "/v1/vms", vmBody({{"colour", "red"}}).dump(), 400,
                 "unknown field 'colour'", "colour");
  expectRejected("POST", "/v1/vms", vmBody({{"vcpus", "two"}}).dump(), 400, "must be an integer",
                 "vcpus");
  expectRejected("POST", "/v1/vms", vmBody({{"disks", {{{"name", "a"}, {"size", 1}}}}}).dump(), 400,
                 "unknown field 'disks[0].size'", "disks[0].size");
  expectRejected("POST", "/v1/vms/runner/actions/start", R"({"bogus": 1})", 400,
                 "unknown field 'bogus'");
}

TEST_F(BadInput, BadNamesAreRefused) {
  expectRejected("POST", "/v1/vms", vmBody({{"name", "a/b"}}).dump(), 400, "contains '/'", "name");
  expectRejected("POST", "/v1/vms", vmBody({{"name", "a b"}}).dump(), 400, "contains a space",
                 "name");
  expectRejected("POST", "/v1/vms", vmBody({{"name", std::string(200, 'a')}}).dump(), 400,
                 "200 characters long", "name");
  auto cli = d_->cli({"vm", "create", "has space"});
  EXPECT_EQ(cli.code, 1);
  EXPECT_NE(cli.err.find("contains a space"), std::string::npos) << cli.err;
  EXPECT_EQ(std::count(cli.err.begin(), cli.err.end(), '\n'), 1) << cli.err;
}

TEST_F(BadInput, ZeroNegativeAndTooMuchAreRefused) {
  expectRejected("POST", "/v1/vms", vmBody({{"memory_mib", 0}}).dump(), 400,
                 "memory_mib must be positive", "memory_mib");
  expectRejected("POST", "/v1/vms", vmBody({{"memory_mib", -5}}).dump(), 400, "must be positive");
  expectRejected("POST", "/v1/vms", vmBody({{"vcpus", 64}}).dump(), 422, "exceeds the host",
                 "vcpus");
  expectRejected("POST", "/v1/vms", vmBody({{"memory_mib", 100 * 1024 * 1024}}).dump(), 422,
                 "exceeds the host", "memory_mib");
  auto cli = d_->cli({"vm", "create", "neg", "--memory=-1G"});
  EXPECT_EQ(cli.code, 1);
  EXPECT_NE(cli.err.find("must not be negative"), std::string::npos) << cli.err;
}

TEST_F(BadInput, DuplicateNamesAndMissingImagesAreRefused) {
  expectRejected("POST", "/v1/vms", vmBody({{"name", "existing"}}).dump(), 409, "already exists",
                 "name");
  expectRejected("POST", "/v1/vms", vmBody({{"image", "nosuchimage"}}).dump(), 400,
                 "image 'nosuchimage' is unknown", "image");
  expectRejected("POST", "/v1/vms",
                 vmBody({{"image", ""}, {"kernel", "/nonexistent/vmlinuz"}}).dump(), 400,
                 "does not exist", "kernel");
  EXPECT_EQ(d_->cli({"vm", "create", "existing"}).code, 4);
}

TEST_F(BadInput, WrongStateRequestsAreRefused) {
  expectRejected("DELETE", "/v1/vms/runner", "", 409, "stop it first or delete with --force");
  expectRejected("POST", "/v1/vms/runner/actions/start", "", 409, "already running");
  expectRejected("PATCH", "/v1/vms/runner", R"({"vcpus": 2})", 409,
                 "stop it before changing its hardware");
  expectRejected("POST", "/v1/vms/existing/actions/pause", "", 409, "it is stopped");
  expectRejected("POST", "/v1/vms/existing/actions/shutdown", "", 409, "it is stopped");
  expectRejected("PATCH", "/v1/vms/existing", R"({"name": "renamed"})", 400, "cannot be renamed");
  expectRejected("PATCH", "/v1/vms/existing", R"({"disks": [{"name": "root", "size_mib": 1}]})",
                 400, "would destroy data");
}

TEST_F(BadInput, UnknownVmsAndPathsAreNotFound) {
  expectRejected("GET", "/v1/vms/ghost", "", 404, "VM 'ghost' does not exist");
  expectRejected("POST", "/v1/vms/ghost/actions/start", "", 404, "does not exist");
  expectRejected("DELETE", "/v1/vms/ghost", "", 404, "does not exist");
  expectRejected("GET", "/v1/nothing", "", 404, "no such API path");
  expectRejected("PUT", "/v1/vms", "", 405, "not allowed");
  auto cli = d_->cli({"vm", "start", "ghost"});
  EXPECT_EQ(cli.code, 3);
  EXPECT_EQ(cli.err, "paddock: error: VM 'ghost' does not exist\n");
}

}  // namespace
}  // namespace paddock::test
