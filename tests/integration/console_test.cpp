// The serial console: bounded log, interactive attach, several readers, one writer.
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

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

// `paddock ARGS...` with a pseudo-terminal as its controlling terminal and stdin/stdout/stderr,
// the way a person at a terminal runs it. The test keeps the slave side open to read its settings.
class PtyCli {
 public:
  explicit PtyCli(const std::vector<std::string>& args) {
    if (openpty(&master_, &slave_, nullptr, nullptr, nullptr) != 0) return;
    std::vector<std::string> argv = {PADDOCK_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      setsid();
      ioctl(slave_, TIOCSCTTY, 0);
      dup2(slave_, 0);
      dup2(slave_, 1);
      dup2(slave_, 2);
      close(master_);
      close(slave_);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
  }
  ~PtyCli() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) close(master_);
    if (slave_ >= 0) close(slave_);
  }
  bool started() const { return pid_ > 0; }
  termios settings() const {
    termios t{};
    EXPECT_EQ(tcgetattr(slave_, &t), 0);
    return t;
  }
  void type(const std::string& bytes) {
    ASSERT_EQ(::write(master_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  // Reads what the CLI wrote to the terminal until `needle` has arrived or the time is up.
  bool readUntil(const std::string& needle, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (seen_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{master_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(master_, buf, sizeof buf);
      if (n > 0) seen_.append(buf, static_cast<size_t>(n));
    }
    return seen_.find(needle) != std::string::npos;
  }
  const std::string& seen() const { return seen_; }
  // The exit code, or -1 if the CLI is still running after `limit` (or died of a signal).
  int waitExit(std::chrono::milliseconds limit) {
    int status = 0;
    bool done = waitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, limit);
    if (!done) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  int master_ = -1;
  int slave_ = -1;
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string seen_;
};

TEST(Console, AttachOnATerminalIsRawAndCtrlBracketDetachesAndRestoresTheTerminal) {
  TestDaemon d;
  d.createVm("tty");
  d.startVm("tty");
  PtyCli cli({"--host", d.socket(), "vm", "console", "tty"});
  ASSERT_TRUE(cli.started());
  termios before = cli.settings();
  ASSERT_TRUE(before.c_lflag & ICANON);
  ASSERT_TRUE(before.c_lflag & ECHO);

  EXPECT_TRUE(cli.readUntil("Ctrl-] detaches", 10s)) << cli.seen();
  // Attached: the terminal is raw, so keys go to the guest as typed and the guest does the echo.
  ASSERT_TRUE(waitFor([&] { return !(cli.settings().c_lflag & ICANON); }, 5s));
  termios raw = cli.settings();
  EXPECT_FALSE(raw.c_lflag & ECHO);
  EXPECT_FALSE(raw.c_lflag & ISIG);
  EXPECT_FALSE(raw.c_iflag & ICRNL);
  EXPECT_TRUE(cli.readUntil("PADDOCK-READY hostname=tty", 10s)) << cli.seen();
  cli.type("echo typed-$((6*7))\r");
  EXPECT_TRUE(cli.readUntil("typed-42", 15s)) << cli.seen();

  // Ctrl-] detaches at once: the CLI does not wait for the guest to go quiet.
  cli.type("\x1d");
  EXPECT_EQ(cli.waitExit(2s), 0) << cli.seen();
  termios after = cli.settings();
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
  EXPECT_TRUE(after.c_lflag & ICANON);
  EXPECT_TRUE(after.c_lflag & ECHO);
  // Detaching leaves the guest running.
  EXPECT_EQ(d.vm("tty")["state"], "running");
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
