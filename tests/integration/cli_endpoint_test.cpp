// Where the CLI finds paddockd without --host, and what it says when paddockd is not there.
#include <algorithm>

#include <gtest/gtest.h>

#include "common/subprocess.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

// `paddock args...` with PADDOCK_SOCKET=socket and neither --host nor PADDOCK_HOST.
CommandOutput cliWithSocketEnv(const std::string& socket, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"env", "-u", "PADDOCK_HOST", "PADDOCK_SOCKET=" + socket,
                                   PADDOCK_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = runCommand(argv, std::chrono::seconds(30));
  return r.ok() ? *r : CommandOutput{-1, "", r.error().message};
}

TEST(CliEndpoint, PaddockSocketNamesTheDaemonWhenThereIsNoHostFlag) {
  TestDaemon d;
  d.createVm("found-by-env");
  auto r = cliWithSocketEnv(d.socket(), {"--json", "vm", "list"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  auto vms = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(vms.is_array()) << r.out;
  ASSERT_EQ(vms.size(), 1u) << r.out;
  EXPECT_EQ(vms[0]["name"], "found-by-env");
  // --host wins over the environment.
  auto flag = cliWithSocketEnv(d.stateDir() + "/elsewhere.sock",
                               {"--host", d.socket(), "--json", "vm", "list"});
  EXPECT_EQ(flag.exitCode, 0) << flag.err;
}

TEST(CliEndpoint, AMissingSocketExitsFiveWithOneErrorLine) {
  std::string missing = "/nonexistent-paddock-it/paddockd.sock";
  auto r = cliWithSocketEnv(missing, {"vm", "list"});
  EXPECT_EQ(r.exitCode, 5) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("paddock: error: cannot reach paddockd at unix:" + missing + ": ", 0), 0u)
      << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace paddock::test
