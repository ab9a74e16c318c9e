// `paddock bench ...` runs paddock-bench (installed beside this program) with the same arguments;
// --host and --token-file given to paddock reach it through the environment.
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/cli_context.h"

namespace paddock::cli {

void addBenchCommand(CLI::App& app, CliContext& ctx) {
  auto* c = app.add_subcommand(
      "bench", "Benchmark suite: paddock bench run|compare ... (see paddock bench --help)");
  c->allow_extras();
  c->prefix_command();
  c->fallthrough(false);
  c->set_help_flag();
  c->callback([c, &ctx] {
    char self[PATH_MAX] = {};
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : "";
    dir = dir.substr(0, dir.rfind('/') + 1);
    std::string bin = dir + "paddock-bench";
    if (access(bin.c_str(), X_OK) != 0) bin = dir + "bench/paddock-bench";
    std::vector<std::string> args = c->remaining();
    std::vector<char*> argv{const_cast<char*>("paddock-bench")};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (!ctx.host.empty()) setenv("PADDOCK_HOST", ctx.host.c_str(), 1);
    if (!ctx.tokenFile.empty()) setenv("PADDOCK_TOKEN_FILE", ctx.tokenFile.c_str(), 1);
    execv(bin.c_str(), argv.data());
    std::fprintf(stderr, "paddock: error: cannot run %s: %s\n", bin.c_str(), std::strerror(errno));
    throw ExitStatus{kFailed};
  });
}

}  // namespace paddock::cli
