// The process probe against this test's own process and a thread it runs.
#include "common/process_probe.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

namespace paddock {
namespace {

TEST(ProcessProbe, ParsesSchedstatAndRefusesGarbage) {
  const char* line = "123456789 987654 42\n";
  auto t = parseSchedstat(line, std::strlen(line));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->runNs, 123456789u);
  EXPECT_EQ(t->waitNs, 987654u);
  const char* bad = "x y z";
  EXPECT_FALSE(parseSchedstat(bad, std::strlen(bad)).ok());
}

TEST(ProcessProbe, ABusyThreadsRunTimeAndTheProcessCpuClockGrow) {
  std::atomic<bool> stop{false};
  std::atomic<pid_t> tid{0};
  std::thread busy([&] {
    tid = static_cast<pid_t>(syscall(SYS_gettid));
    while (!stop) {
    }
  });
  while (tid == 0) std::this_thread::yield();
  ProcessProbe probe(getpid(), {tid.load(), 999999999});
  ASSERT_EQ(probe.threadCount(), 2u);
  auto cpu0 = probe.processCpuNs();
  auto t0 = probe.thread(0);
  ASSERT_TRUE(cpu0.ok());
  ASSERT_TRUE(t0.ok()) << t0.error().message;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto cpu1 = probe.processCpuNs();
  auto t1 = probe.thread(0);
  stop = true;
  busy.join();
  ASSERT_TRUE(t1.ok());
  // Busy for 300 ms on a machine with other work: at least a third of it on a CPU.
  EXPECT_GT(t1->runNs - t0->runNs, 100'000'000u);
  EXPECT_GE(*cpu1 - *cpu0, t1->runNs - t0->runNs - 10'000'000);
  // A thread that does not exist, or that has exited, is not_found, not a zero.
  EXPECT_EQ(probe.thread(1).error().code, Errc::not_found);
  EXPECT_EQ(probe.thread(0).error().code, Errc::not_found);
}

}  // namespace
}  // namespace paddock
