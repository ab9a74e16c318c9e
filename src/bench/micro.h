// lmbench-style operating-system micro-benchmarks (lmbench is not in Debian main), run the same
// way natively and inside guests: each returns microseconds per operation over `iterations`.
// They are what the Xen study's Table 3 measured: null syscall, context switch, process
// creation, mmap, page faults.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace paddock::bench {

// getppid(2) through syscall(2), so no libc cache answers it.
Result<double> nullSyscallUs(int iterations);
// Two processes passing one byte back and forth over two pipes: half a round trip.
Result<double> contextSwitchUs(int iterations);
// fork(2) and the child's _exit, waited for.
Result<double> forkExitUs(int iterations);
// fork(2) and execve of /bin/true, waited for.
Result<double> forkExecUs(int iterations);
// mmap(2) of 1 MiB of anonymous memory, one byte written, munmap(2).
Result<double> mmapUs(int iterations);
// A first touch of an anonymous page (4 KiB) in a fresh 64 MiB mapping.
Result<double> pageFaultUs(int iterations);

struct MicroBenchmark {
  std::string name;  // stable: used in result files
  std::function<Result<double>(int)> run;
  int defaultIterations;
};
// All of the above, in a fixed order.
const std::vector<MicroBenchmark>& microBenchmarks();

}  // namespace paddock::bench
