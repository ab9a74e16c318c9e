// paddock apply -f FILE [--dry-run]
#include <optional>

#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"
#include "directory_file/apply_request.h"

namespace paddock::cli {

namespace {

// The line of `field` ("subnet", "nics[0].network") in a network or VM of the file, else the line
// of its name.
template <typename Desired>
int lineOf(const Desired& d, const std::string& field) {
  for (std::string probe = field; !probe.empty();) {
    if (auto it = d.fieldLines.find(probe); it != d.fieldLines.end()) return it->second;
    auto cut = probe.find_last_of(".[");
    probe = cut == std::string::npos ? "" : probe.substr(0, cut);
  }
  return d.line;
}

// Maps a daemon error whose field is "vms.NAME.FIELD" or "networks.NAME.FIELD" back to the file's
// line.
Error withLine(const Error& e, const DirectoryFile& file) {
  for (std::string prefix : {"vms.", "networks."}) {
    if (e.field.rfind(prefix, 0) != 0) continue;
    std::string rest = e.field.substr(prefix.size());
    auto dot = rest.find('.');
    std::string name = rest.substr(0, dot);
    std::string field = dot == std::string::npos ? "" : rest.substr(dot + 1);
    std::optional<int> line;
    if (prefix == "vms.") {
      for (const auto& d : file.vms)
        if (d.spec.name == name) line = lineOf(d, field);
    } else {
      for (const auto& d : file.networks)
        if (d.spec.name == name) line = lineOf(d, field);
    }
    if (line)
      return makeError(e.code, fmt::format("{}:{}: {}", file.path, *line, e.message), e.field);
  }
  return e;
}

}  // namespace

void addApplyCommand(CLI::App& app, CliContext& ctx) {
  auto* c = app.add_subcommand("apply", "Converge networks and VMs to a directory file (YAML)");
  auto file = std::make_shared<std::string>();
  auto dryRun = std::make_shared<bool>(false);
  auto noWaitReady = std::make_shared<bool>(false);
  c->add_option("-f,--file", *file, "the directory file")->required();
  c->add_flag("--dry-run", *dryRun, "print the plan and change nothing");
  c->add_flag("--no-wait-ready", *noWaitReady, "do not wait for started guests to report ready");
  c->callback([=, &ctx] {
    auto dir = ctx.must(parseDirectoryFile(*file));
    auto request = toApplyRequest(dir, true);
    auto planned = ctx.client().call("POST", "/v1/apply", request);
    if (!planned) ctx.fail(withLine(planned.error(), dir));
    const auto& plan = (*planned)["plan"];
    if (!ctx.json || *dryRun) {
      if (ctx.json) return printJson(plan);
      std::printf("%s\n", plan.value("text", "").c_str());
      std::fflush(stdout);  // the plan comes before the progress lines on stderr
    }
    if (*dryRun || plan.value("nothing_to_do", false)) {
      if (ctx.json) printJson({{"plan", plan}});
      return;
    }
    request["dry_run"] = false;
    request["wait_ready"] = !*noWaitReady;
    auto op = ctx.client().call("POST", "/v1/apply", request);
    if (!op) ctx.fail(withLine(op.error(), dir));
    Progress progress("apply " + dir.name);
    auto r = ctx.client().waitOperation(
        op->value("id", int64_t{0}), [&](int p, const std::string& m) { progress.update(p, m); });
    progress.done();
    auto result = ctx.must(std::move(r));
    if (ctx.json) return printJson(result);
    for (auto it = result["ready"].begin(); it != result["ready"].end(); ++it)
      std::printf("%s: %s\n", it.key().c_str(), it.value().get<std::string>().c_str());
    std::printf("Applied directory %s.\n", dir.name.c_str());
  });
}

}  // namespace paddock::cli
