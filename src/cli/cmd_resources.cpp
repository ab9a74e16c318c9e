// paddock vm set NAME --cpu-shares/--cpu-limit/--cpus/--dedicate/--latency/--memory-limit/--balloon
#include <sstream>

#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"
#include "common/units.h"

namespace paddock::cli {

namespace {

using nlohmann::json;

std::string vmPath(const std::string& name) {
  return "/v1/vms/" + name;
}

// "1,3" → [1, 3]; "" → [] (any CPU).
json cpuList(CliContext& ctx, const std::string& text) {
  json out = json::array();
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty() || item.find_first_not_of("0123456789") != std::string::npos ||
        item.size() > 4)
      ctx.fail(makeError(Errc::invalid_argument,
                         fmt::format("--cpus '{}': use host CPU numbers like 1,3", text)));
    out.push_back(std::stoi(item));
  }
  return out;
}

// "256M" → 256; "0" or "off" → 0 (no limit / no balloon target).
std::uint64_t sizeOrOff(CliContext& ctx, const std::string& option, const std::string& text) {
  if (text == "0" || text == "off") return 0;
  auto mib = parseSizeMib(text);
  if (!mib)
    ctx.fail(makeError(Errc::invalid_argument,
                       fmt::format("{} '{}': {}", option, text, mib.error().message)));
  return *mib;
}

// A rate (see parseRate) from --disk-limit.
std::uint64_t rate(CliContext& ctx, const std::string& text) {
  auto r = parseRate(text);
  if (!r) ctx.fail(makeError(Errc::invalid_argument, "--disk-limit: " + r.error().message));
  return *r;
}

// "root:write_bps=1M,read_iops=200" (or "root:off") into `limits`.
void diskLimit(CliContext& ctx, const std::string& text, json& limits) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0)
    ctx.fail(makeError(Errc::invalid_argument,
                       fmt::format("--disk-limit '{}': use DISK:write_bps=1M,read_iops=200 or "
                                   "DISK:off",
                                   text)));
  std::string disk = text.substr(0, colon), rest = text.substr(colon + 1);
  if (rest == "off") {
    limits.erase(disk);
    return;
  }
  json l = limits.contains(disk) ? limits[disk] : json::object();
  std::stringstream in(rest);
  for (std::string item; std::getline(in, item, ',');) {
    auto eq = item.find('=');
    std::string key = item.substr(0, eq);
    if (eq == std::string::npos ||
        (key != "read_bps" && key != "write_bps" && key != "read_iops" && key != "write_iops"))
      ctx.fail(makeError(Errc::invalid_argument,
                         fmt::format("--disk-limit '{}': '{}' is not read_bps=, write_bps=, "
                                     "read_iops= or write_iops=",
                                     text, item)));
    l[key] = rate(ctx, item.substr(eq + 1));
  }
  limits[disk] = l;
}

}  // namespace

void addResourceCommands(CLI::App& app, CliContext& ctx) {
  CLI::App* vm = app.get_subcommand("vm");
  auto* c = vm->add_subcommand(
      "set", "Change a VM's CPU and memory controls; a running VM changes at once");
  auto name = std::make_shared<std::string>();
  auto shares = std::make_shared<int>(-1);
  auto limit = std::make_shared<double>(-1);
  auto cpus = std::make_shared<std::string>();
  auto dedicate = std::make_shared<std::string>();
  auto latency = std::make_shared<std::string>();
  auto memLimit = std::make_shared<std::string>();
  auto balloon = std::make_shared<std::string>();
  auto disks = std::make_shared<std::vector<std::string>>();
  c->add_option("name", *name)->required();
  c->add_option("--cpu-shares", *shares, "relative weight under contention (default 1000)");
  c->add_option("--cpu-limit", *limit, "cap in host CPUs, e.g. 0.25; 0 removes it");
  auto* cpusOpt = c->add_option("--cpus", *cpus, "host CPUs to run on, e.g. 1,3; \"\" for any");
  c->add_option("--dedicate", *dedicate, "on: --cpus are this VM's alone, vCPUs pinned; off")
      ->check(CLI::IsMember({"on", "off"}));
  c->add_option("--latency", *latency, "high: dispatch promptly (z/VM QUICKDSP); normal")
      ->check(CLI::IsMember({"normal", "high"}));
  c->add_option("--memory-limit", *memLimit, "cap on host memory, e.g. 1G; off");
  c->add_option("--balloon", *balloon, "memory the guest keeps, e.g. 256M; off for all of it");
  c->add_option(
      "--disk-limit", *disks,
      "DISK:write_bps=1M,read_bps=..,read_iops=..,write_iops=.. or DISK:off (repeatable)");
  c->callback([=, &ctx] {
    auto current = ctx.must(ctx.client().call("GET", vmPath(*name)));
    json r = current.value("resources", json::object());
    if (*shares >= 0) r["cpu_shares"] = *shares;
    if (*limit >= 0) r["cpu_limit"] = *limit;
    if (cpusOpt->count() > 0) r["cpus"] = cpuList(ctx, *cpus);
    if (!dedicate->empty()) r["dedicate"] = *dedicate == "on";
    if (!latency->empty()) r["latency"] = *latency;
    if (!memLimit->empty()) r["memory_limit_mib"] = sizeOrOff(ctx, "--memory-limit", *memLimit);
    if (!balloon->empty()) r["balloon_mib"] = sizeOrOff(ctx, "--balloon", *balloon);
    if (!disks->empty()) {
      json limits = r.value("disk_limits", json::object());
      for (const auto& d : *disks) diskLimit(ctx, d, limits);
      r["disk_limits"] = limits;
    }
    auto updated = ctx.must(ctx.client().call("PATCH", vmPath(*name), {{"resources", r}}));
    if (ctx.json) return printJson(updated);
    const json& now = updated["resources"];
    std::printf(
        "VM %s: cpu_shares %d, cpu_limit %g, cpus [%s]%s, latency %s, memory_limit %s, "
        "balloon %s\n",
        name->c_str(), now.value("cpu_shares", 0), now.value("cpu_limit", 0.0),
        fmt::format("{}", fmt::join(now.value("cpus", std::vector<int>{}), ",")).c_str(),
        now.value("dedicate", false) ? " dedicated" : "", now.value("latency", "normal").c_str(),
        now.value("memory_limit_mib", 0)
            ? formatMib(now.value("memory_limit_mib", uint64_t{0})).c_str()
            : "none",
        now.value("balloon_mib", 0) ? formatMib(now.value("balloon_mib", uint64_t{0})).c_str()
                                    : "none");
  });
}

}  // namespace paddock::cli
