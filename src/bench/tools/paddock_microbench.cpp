// paddock-microbench: the suite's lmbench-style micro-benchmarks (bench/micro.h), one process
// that runs the same way on the host and inside a guest. Prints microseconds per operation.
//
//   paddock-microbench [--scale F] [--only NAME] [--json]
//
// --scale multiplies every benchmark's iteration count (0.01 for a quick look). A benchmark
// that fails is reported as failed (exit 1), never as a number.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/micro.h"

namespace {

[[noreturn]] void usage(const std::string& error) {
  if (!error.empty()) std::fprintf(stderr, "paddock-microbench: %s\n", error.c_str());
  std::fprintf(stderr, "usage: paddock-microbench [--scale F] [--only NAME] [--json]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  double scale = 1;
  std::string only;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--scale") {
      std::string v = value();
      char* end = nullptr;
      scale = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(scale > 0) || scale > 100)
        usage("--scale must be a number above 0 and at most 100");
    } else if (a == "--only") {
      only = value();
    } else if (a == "--json") {
      json = true;
    } else {
      usage(a == "--help" || a == "-h" ? "" : "unknown argument " + a);
    }
  }
  nlohmann::json out = nlohmann::json::object();
  bool found = false, failed = false;
  for (const auto& b : paddock::bench::microBenchmarks()) {
    if (!only.empty() && b.name != only) continue;
    found = true;
    int iterations = std::max(1, static_cast<int>(b.defaultIterations * scale));
    auto r = b.run(iterations);
    if (!r) {
      failed = true;
      out[b.name] = {{"error", r.error().message}};
      if (!json) std::printf("%-20s FAILED: %s\n", b.name.c_str(), r.error().message.c_str());
      continue;
    }
    out[b.name] = {{"us", *r}, {"iterations", iterations}};
    if (!json) std::printf("%-20s %12.3f us  (%d iterations)\n", b.name.c_str(), *r, iterations);
  }
  if (!found) usage("--only: no benchmark named " + only);
  if (json) std::printf("%s\n", out.dump(2).c_str());
  return failed ? 1 : 0;
}
