// Peer hosts: `paddock host add/list/show/remove` between two real paddockd.
#include <gtest/gtest.h>

#include "common/files.h"
#include "harness.h"

namespace paddock::test {
namespace {

std::string address(const TestDaemon& d) {
  return "127.0.0.1:" + std::to_string(d.tcpPort());
}

nlohmann::json peers(TestDaemon& d) {
  auto r = d.cli({"--json", "host", "list"});
  EXPECT_EQ(r.code, 0) << r.err;
  return r.json()["peers"];
}

TEST(Peers, AHostIsAddedOnlyWhenItAnswersToItsTokenAndListedLive) {
  TestDaemon a({"--listen", "127.0.0.1:0"});
  TestDaemon b({"--listen", "127.0.0.1:0"});
  ASSERT_GT(b.tcpPort(), 0);
  std::string wrongToken = a.stateDir() + "/wrong-token";
  ASSERT_TRUE(writeFileAtomic(wrongToken, "0123abcd\n", 0600).ok());

  // Bad input: one line naming what is wrong, nothing recorded.
  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<Bad> bad = {
      {{"host", "add", "B", "--address", address(b), "--token-file", b.tokenFile()}, "name"},
      {{"host", "add", "b", "--address", "no-port", "--token-file", b.tokenFile()}, "HOST:PORT"},
      {{"host", "add", "b", "--address", address(b), "--token-file", a.stateDir() + "/none"},
       "--token-file"},
      {{"host", "add", "b", "--address", address(b), "--token-file", wrongToken},
       "refused the token"},
      {{"host", "add", "b", "--address", "127.0.0.1:1", "--token-file", b.tokenFile()},
       "cannot reach"},
      {{"host", "add", "self", "--address", address(a), "--token-file", a.tokenFile()},
       "this paddockd itself"},
  };
  for (const auto& c : bad) {
    auto r = a.cli(c.args);
    EXPECT_NE(r.code, 0) << c.args[2] << " " << c.args[4];
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  EXPECT_TRUE(peers(a).empty());

  auto added = a.cli({"host", "add", "b", "--address", address(b), "--token-file", b.tokenFile()});
  ASSERT_EQ(added.code, 0) << added.err;
  EXPECT_EQ(
      a.cli({"host", "add", "b", "--address", address(b), "--token-file", b.tokenFile()}).code,
      4);  // taken

  auto list = peers(a);
  ASSERT_EQ(list.size(), 1u);
  const auto& p = list[0];
  EXPECT_EQ(p["name"], "b");
  EXPECT_EQ(p["address"], address(b));
  EXPECT_TRUE(p["reachable"].get<bool>());
  EXPECT_FALSE(p.value("accelerator", "").empty());
  EXPECT_TRUE(p.contains("cpu_model"));
  EXPECT_GT(p.value("cpus", 0), 0);
  EXPECT_GT(p.value("memory_available_mib", 0), 0);
  EXPECT_EQ(p.value("running_vms", -1), 0);
  EXPECT_FALSE(p.contains("token"));  // the token stays in a's store
  auto table = a.cli({"host", "list"});
  EXPECT_NE(table.out.find("(this host)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(address(b)), std::string::npos) << table.out;

  // A peer that went away is listed as unreachable, with why, and can be forgotten.
  b.stop();
  auto down = peers(a);
  ASSERT_EQ(down.size(), 1u);
  EXPECT_FALSE(down[0]["reachable"].get<bool>());
  EXPECT_NE(down[0].value("error", "").find("peer b"), std::string::npos) << down[0].dump();
  EXPECT_EQ(a.cli({"host", "remove", "b"}).code, 0);
  EXPECT_TRUE(peers(a).empty());
  EXPECT_EQ(a.cli({"host", "remove", "b"}).code, 3);
}

}  // namespace
}  // namespace paddock::test
