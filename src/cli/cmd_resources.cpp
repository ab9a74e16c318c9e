// paddock vm set NAME --cpu-shares/--cpu-limit/--cpu-reservation/--cpus/--dedicate/--latency/
//   --memory-limit/--memory-reservation/--memory-lock/--page-sharing/--balloon/--disk-limit/
//   --nic-limit; paddock host overcommit [on|off] [--low SIZE] [--high SIZE]
#include <set>
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

// A rate (see parseRate) from `option`.
std::uint64_t rate(CliContext& ctx, const std::string& text,
                   const std::string& option = "--disk-limit") {
  auto r = parseRate(text);
  if (!r) ctx.fail(makeError(Errc::invalid_argument, option + ": " + r.error().message));
  return *r;
}

// The "field=value,..." after the KEY: of --disk-limit/--nic-limit `text` into `limits` (one
// disk's or NIC's object): rates ("10M") for every field but group, which is a name.
void limitItems(CliContext& ctx, const std::string& option, const std::string& text,
                const std::string& items, const std::set<std::string>& fields,
                const std::string& valid, json& limits) {
  if (!limits.is_object()) limits = json::object();
  std::stringstream in(items);
  for (std::string item; std::getline(in, item, ',');) {
    auto eq = item.find('=');
    std::string key = item.substr(0, eq);
    if (eq == std::string::npos || !fields.count(key))
      ctx.fail(makeError(Errc::invalid_argument,
                         fmt::format("{} '{}': '{}' is not {}", option, text, item, valid)));
    std::string value = item.substr(eq + 1);
    if (key == "group")
      limits[key] = value;
    else
      limits[key] = rate(ctx, value, option);
  }
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
  static const std::set<std::string> fields = {
      "read_bps",      "write_bps",     "read_iops",      "write_iops",    "read_bps_max",
      "write_bps_max", "read_iops_max", "write_iops_max", "burst_seconds", "group"};
  limitItems(ctx, "--disk-limit", text, rest, fields,
             "read_bps=, write_bps=, read_iops=, write_iops=, one of those with _max (a burst), "
             "burst_seconds= or group=",
             limits[disk]);
}

void addOvercommitCommand(CLI::App& app, CliContext& ctx) {
  CLI::App* host = app.get_subcommand("host");
  auto* c = host->add_subcommand(
      "overcommit", "Show or set the overcommit manager (balloons under host memory pressure)");
  auto state = std::make_shared<std::string>();
  auto low = std::make_shared<std::string>();
  auto high = std::make_shared<std::string>();
  c->add_option("state", *state, "on or off; without it and the options, show the state")
      ->check(CLI::IsMember({"on", "off"}));
  c->add_option("--low", *low, "reclaim when host available memory is below this, e.g. 1G");
  c->add_option("--high", *high, "give memory back above this (default: twice --low)");
  c->callback([=, &ctx] {
    json o;
    if (state->empty() && low->empty() && high->empty()) {
      o = ctx.must(ctx.client().call("GET", "/v1/host/overcommit"));
    } else {
      json req = json::object();
      if (!state->empty()) req["enabled"] = *state == "on";
      if (!low->empty()) req["low_mib"] = sizeOrOff(ctx, "--low", *low);
      if (!high->empty()) req["high_mib"] = sizeOrOff(ctx, "--high", *high);
      o = ctx.must(ctx.client().call("PUT", "/v1/host/overcommit", req));
    }
    if (ctx.json) return printJson(o);
    std::printf(
        "overcommit manager %s: reclaims below %s available, gives back above %s; host "
        "has %s available\n",
        o.value("enabled", false) ? "on" : "off",
        formatMib(o.value("low_mib", uint64_t{0})).c_str(),
        formatMib(o.value("high_mib", uint64_t{0})).c_str(),
        formatMib(o.value("host_available_mib", uint64_t{0})).c_str());
    if (o["vms"].empty()) return;
    Table t({"VM", "OWNER TARGET", "NOW", "RECLAIMED"});
    for (const auto& [vm, v] : o["vms"].items())
      t.add({vm, formatMib(v.value("owner_mib", uint64_t{0})),
             formatMib(v.value("target_mib", uint64_t{0})),
             formatMib(v.value("reclaimed_mib", uint64_t{0}))});
    t.print();
  });
}

// "0:rx_bps=10M,tx_bps=1M" (NIC by position), "02:50:44:00:00:0a:rx_bps=1M" (by MAC) or
// "0:off" into `limits`, which is keyed by MAC.
void nicLimit(CliContext& ctx, const std::string& vm, const std::string& text, const json& nics,
              json& limits) {
  auto eq = text.find('=');
  auto colon = text.rfind(':', eq);
  if (colon == std::string::npos || colon == 0)
    ctx.fail(makeError(Errc::invalid_argument,
                       fmt::format("--nic-limit '{}': use NIC:rx_bps=10M,tx_bps=1M or NIC:off, "
                                   "NIC being the NIC's position (0, 1, ...) or its MAC",
                                   text)));
  std::string nic = text.substr(0, colon), rest = text.substr(colon + 1);
  if (nic.find_first_not_of("0123456789") == std::string::npos) {
    size_t index = nic.size() > 3 ? nics.size() : std::stoul(nic);
    if (!nics.is_array() || index >= nics.size())
      ctx.fail(makeError(Errc::invalid_argument,
                         fmt::format("--nic-limit '{}': VM '{}' has no NIC {}", text, vm, nic)));
    nic = nics[index].value("mac", "");
  }
  if (rest == "off") {
    limits.erase(nic);
    return;
  }
  static const std::set<std::string> fields = {"rx_bps", "tx_bps"};
  limitItems(ctx, "--nic-limit", text, rest, fields, "rx_bps= or tx_bps=", limits[nic]);
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
  auto cpuReserve = std::make_shared<double>(-1);
  auto memReserve = std::make_shared<std::string>();
  auto memLock = std::make_shared<std::string>();
  auto sharing = std::make_shared<std::string>();
  auto nicLimits = std::make_shared<std::vector<std::string>>();
  auto ioWeight = std::make_shared<int>(-1);
  c->add_option("name", *name)->required();
  c->add_option("--cpu-shares", *shares, "relative weight under contention (default 1000)");
  c->add_option("--cpu-limit", *limit, "cap in host CPUs, e.g. 0.25; 0 removes it");
  c->add_option("--cpu-reservation", *cpuReserve,
                "guaranteed host CPUs, e.g. 0.5 (admission-checked); 0 removes it");
  auto* cpusOpt = c->add_option("--cpus", *cpus, "host CPUs to run on, e.g. 1,3; \"\" for any");
  c->add_option("--dedicate", *dedicate, "on: --cpus are this VM's alone, vCPUs pinned; off")
      ->check(CLI::IsMember({"on", "off"}));
  c->add_option("--latency", *latency, "high: dispatch promptly (z/VM QUICKDSP); normal")
      ->check(CLI::IsMember({"normal", "high"}));
  c->add_option("--memory-limit", *memLimit, "cap on host memory, e.g. 1G; off");
  c->add_option("--memory-reservation", *memReserve,
                "guaranteed memory, never reclaimed (admission-checked), e.g. 128M; off");
  c->add_option("--memory-lock", *memLock,
                "on: preallocate and lock all guest memory at start (stopped VMs only); off")
      ->check(CLI::IsMember({"on", "off"}));
  c->add_option("--page-sharing", *sharing,
                "off: keep the VM's memory out of KSM (stopped VMs only); on")
      ->check(CLI::IsMember({"on", "off"}));
  c->add_option("--balloon", *balloon, "memory the guest keeps, e.g. 256M; off for all of it");
  c->add_option("--disk-limit", *disks,
                "DISK:write_bps=1M,read_bps=..,read_iops=..,write_iops=.., bursts write_bps_max=8M,"
                "burst_seconds=2, a shared budget group=NAME; or DISK:off (repeatable)");
  c->add_option("--io-weight", *ioWeight,
                "I/O priority 1-1000 on BFQ-scheduled disks (z/VM SET IOPRIORITY); 0: default");
  c->add_option("--nic-limit", *nicLimits,
                "NIC:rx_bps=10M,tx_bps=1M or NIC:off, NIC = position (0, 1, ...) or MAC; rates "
                "as the guest sees them (repeatable)");
  c->callback([=, &ctx] {
    auto current = ctx.must(ctx.client().call("GET", vmPath(*name)));
    json r = current.value("resources", json::object());
    if (*shares >= 0) r["cpu_shares"] = *shares;
    if (*limit >= 0) r["cpu_limit"] = *limit;
    if (*cpuReserve >= 0) r["cpu_reservation"] = *cpuReserve;
    if (!memReserve->empty())
      r["memory_reservation_mib"] = sizeOrOff(ctx, "--memory-reservation", *memReserve);
    if (!memLock->empty()) r["memory_lock"] = *memLock == "on";
    if (!sharing->empty()) r["page_sharing"] = *sharing == "on";
    if (*ioWeight >= 0) r["io_weight"] = *ioWeight;
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
    if (!nicLimits->empty()) {
      json limits = r.value("nic_limits", json::object());
      for (const auto& n : *nicLimits) nicLimit(ctx, *name, n, current["nics"], limits);
      r["nic_limits"] = limits;
    }
    auto updated = ctx.must(ctx.client().call("PATCH", vmPath(*name), {{"resources", r}}));
    if (ctx.json) return printJson(updated);
    const json& now = updated["resources"];
    auto mibOrNone = [&](const char* field) {
      auto mib = now.value(field, uint64_t{0});
      return mib ? formatMib(mib) : std::string("none");
    };
    std::printf(
        "VM %s: cpu_shares %d, cpu_limit %g, cpu_reservation %g, cpus [%s]%s, latency %s, "
        "memory_limit %s, memory_reservation %s%s%s, balloon %s\n",
        name->c_str(), now.value("cpu_shares", 0), now.value("cpu_limit", 0.0),
        now.value("cpu_reservation", 0.0),
        fmt::format("{}", fmt::join(now.value("cpus", std::vector<int>{}), ",")).c_str(),
        now.value("dedicate", false) ? " dedicated" : "", now.value("latency", "normal").c_str(),
        mibOrNone("memory_limit_mib").c_str(), mibOrNone("memory_reservation_mib").c_str(),
        now.value("memory_lock", false) ? ", memory locked" : "",
        now.value("page_sharing", true) ? "" : ", no page sharing",
        mibOrNone("balloon_mib").c_str());
  });
  addOvercommitCommand(app, ctx);
}

}  // namespace paddock::cli
