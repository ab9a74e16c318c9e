// paddock host info
#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"
#include "common/units.h"

namespace paddock::cli {

void addHostCommands(CLI::App& app, CliContext& ctx) {
  auto* host = app.add_subcommand("host", "This host")->require_subcommand(1);
  auto* info =
      host->add_subcommand("info", "Capacity, QEMU, and which accelerator is used and why");
  info->callback([&ctx] {
    auto h = ctx.must(ctx.client().call("GET", "/v1/host"));
    if (ctx.json) return printJson(h);
    auto row = [](const char* k, const std::string& v) { std::printf("%-13s %s\n", k, v.c_str()); };
    row("Hostname:", h.value("hostname", ""));
    row("Kernel:", h.value("kernel", ""));
    row("CPUs:", std::to_string(h.value("cpus", 0)));
    row("Memory:", formatMib(h.value("memory_mib", uint64_t{0})));
    row("QEMU:", h.value("qemu", ""));
    row("/dev/kvm:", h.value("kvm_device", false) ? "present" : "absent");
    row("Accelerator:", h.value("accelerator", ""));
    row("Why:", h.value("accelerator_reason", ""));
    row("State dir:", h.value("state_dir", ""));
    row("Paddock:", h.value("paddock_version", ""));
  });
}

}  // namespace paddock::cli
