// The serial console: bounded log, interactive attach, several readers, one writer.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "http/websocket.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

// Reads from `ws` until `needle` has arrived or the time is up; returns all it read.
std::string readUntil(http::WebSocket& ws, const std::string& needle, std::chrono::seconds limit) {
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (seen.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    auto msg = ws.receive();
    if (!msg) break;
    seen += *msg;
  }
  return seen;
}

TEST(Console, AttachSeesTheReadinessLineAndATypedCommandEchoes) {
  TestDaemon d;
  d.createVm("con");
  d.startVm("con");
  auto ws = d.api().openWebSocket("/v1/vms/con/console?replay=1");
  ASSERT_TRUE(ws.ok()) << ws.error().message;
  std::string replay = readUntil(**ws, "PADDOCK-READY hostname=con", 10s);
  EXPECT_NE(replay.find("PADDOCK-READY hostname=con"), std::string::npos) << replay;
  ASSERT_TRUE((*ws)->sendBinary("echo typed-$((6*7))\n"));
  std::string answer = readUntil(**ws, "typed-42", 15s);
  EXPECT_NE(answer.find("typed-42"), std::string::npos) << answer;

  // The CLI's piped mode does the same, and the log has it all.
  auto cli = d.cli({"vm", "console", "con", "--read-only"}, "");
  EXPECT_EQ(cli.code, 0) << cli.err;
  auto log = d.cli({"vm", "console", "con", "--log"});
  EXPECT_NE(log.out.find("PADDOCK-READY hostname=con"), std::string::npos);
  EXPECT_NE(log.out.find("typed-42"), std::string::npos);
}

TEST(Console, ASecondClientReadsButCannotType) {
  TestDaemon d;
  d.createVm("shared");
  d.startVm("shared");
  auto writer = d.api().openWebSocket("/v1/vms/shared/console");
  ASSERT_TRUE(writer.ok());
  EXPECT_NE(readUntil(**writer, "\"writer\":true", 5s).find("\"writer\":true"), std::string::npos);
  auto reader = d.api().openWebSocket("/v1/vms/shared/console");
  ASSERT_TRUE(reader.ok());
  EXPECT_NE(readUntil(**reader, "\"writer\":false", 5s).find("\"writer\":false"),
            std::string::npos);
  // What the reader types is dropped; what the writer types reaches both.
  (*reader)->sendBinary("echo from-reader-$((1+1))\n");
  (*writer)->sendBinary("echo from-writer-$((2+2))\n");
  std::string r = readUntil(**reader, "from-writer-4", 15s);
  EXPECT_NE(r.find("from-writer-4"), std::string::npos) << r;
  EXPECT_EQ(r.find("from-reader-2"), std::string::npos) << r;
}

TEST(Console, LogStaysBoundedAndOutlivesTheVm) {
  TestDaemon d;
  d.createVm("chatty");
  d.startVm("chatty");
  // ~1.5 MiB of output: the log rotates at 1 MiB and keeps one old file.
  d.cli({"vm", "console", "chatty"},
        "i=0; while [ $i -lt 1600 ]; do printf '%1000d\\n' $i; i=$((i+1)); done; echo spam-done\n");
  ASSERT_TRUE(waitFor(
      [&] {
        return d.cli({"vm", "console", "chatty", "--log"}).out.find("spam-done") !=
               std::string::npos;
      },
      120s));
  struct stat st {};
  ASSERT_EQ(stat((d.stateDir() + "/run/chatty/console.log").c_str(), &st), 0);
  EXPECT_LE(st.st_size, 1 << 20);
  ASSERT_EQ(d.cli({"vm", "stop", "chatty"}).code, 0);
  EXPECT_NE(d.cli({"vm", "console", "chatty", "--log"}).out.find("spam-done"), std::string::npos);
}

}  // namespace
}  // namespace paddock::test
