// paddock vm create (from scratch or a template, one or a
// range)|list|show|start|stop|shutdown|reboot| pause|resume|delete|edit|console
#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/console_attach.h"
#include "cli/output.h"
#include "common/clock.h"
#include "common/names.h"
#include "common/units.h"

namespace paddock::cli {

namespace {

// "--disk root=1G" or "--disk 1G" (named disk0, disk1, ...).
nlohmann::json parseDisks(CliContext& ctx, const std::vector<std::string>& flags) {
  nlohmann::json disks = nlohmann::json::array();
  for (size_t i = 0; i < flags.size(); ++i) {
    std::string name = fmt::format("disk{}", i);
    std::string size = flags[i];
    if (auto eq = flags[i].find('='); eq != std::string::npos) {
      name = flags[i].substr(0, eq);
      size = flags[i].substr(eq + 1);
    }
    auto mib = parseSizeMib(size);
    if (!mib)
      ctx.fail(
          makeError(Errc::invalid_argument, "--disk " + flags[i] + ": " + mib.error().message));
    disks.push_back({{"name", name}, {"size_mib", *mib}});
  }
  return disks;
}

// "--nic lan" or "--nic network=lan,ip=10.7.0.5,mac=02:50:44:00:00:01,port_group=web".
nlohmann::json parseNic(CliContext& ctx, const std::string& text) {
  nlohmann::json nic = {{"network", ""}, {"mac", ""}, {"port_group", ""}, {"ip", ""}};
  if (text.find('=') == std::string::npos) {
    nic["network"] = text;
    return nic;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    auto eq = item.find('=');
    std::string key = item.substr(0, eq);
    if (eq == std::string::npos || !nic.contains(key))
      ctx.fail(makeError(
          Errc::invalid_argument,
          fmt::format("--nic {}: '{}' is not one of network=, mac=, port_group=, ip=", text,
                      item)));
    nic[key] = item.substr(eq + 1);
    start = end + 1;
  }
  return nic;
}

uint64_t memoryFlag(CliContext& ctx, const std::string& text) {
  auto mib = parseSizeMib(text);
  if (!mib) ctx.fail(makeError(Errc::invalid_argument, "--memory: " + mib.error().message));
  return *mib;
}

std::string vmPath(const std::string& name, const std::string& suffix = "") {
  return "/v1/vms/" + name + suffix;
}

// How long the current boot took to report ready; nothing for a VM that is not running.
std::string readyColumn(const nlohmann::json& vm) {
  const auto& rt = vm["runtime"];
  std::string state = vm.value("state", "");
  if (state != "running" && state != "paused") return "-";
  int64_t ready = rt.value("ready_at_ms", int64_t{0});
  int64_t started = rt.value("started_at_ms", int64_t{0});
  if (ready == 0 || started == 0) return "-";
  return fmt::format("{:.1f}s", static_cast<double>(ready - started) / 1000.0);
}

std::string uptimeColumn(const nlohmann::json& vm) {
  const auto& rt = vm["runtime"];
  std::string state = vm.value("state", "");
  if (state != "running" && state != "paused") return "-";
  return humanDuration(nowMs() - rt.value("started_at_ms", int64_t{0}));
}

void printVmTable(const nlohmann::json& vms) {
  Table t({"NAME", "STATE", "VCPUS", "MEMORY", "DISKS", "ACCEL", "UPTIME", "READY", "DESCRIPTION"});
  for (const auto& vm : vms) {
    std::string state = vm.value("state", "");
    std::string reason = vm["runtime"].value("reason", "");
    if (state == "crashed" && !reason.empty()) state += " (" + reason.substr(0, 40) + ")";
    std::string accel = vm["runtime"].value("accel", "");
    t.add({vm.value("name", ""), state, std::to_string(vm.value("vcpus", 0)),
           formatMib(vm.value("memory_mib", uint64_t{0})), diskSummary(vm),
           accel.empty() ? vm.value("accel", "auto") : accel, uptimeColumn(vm), readyColumn(vm),
           vm.value("description", "")});
  }
  t.print();
}

void printVm(const nlohmann::json& vm) {
  const auto& rt = vm["runtime"];
  auto row = [](const char* k, const std::string& v) { std::printf("%-13s %s\n", k, v.c_str()); };
  row("Name:", vm.value("name", ""));
  row("State:", vm.value("state", ""));
  if (!rt.value("reason", "").empty()) row("Reason:", rt.value("reason", ""));
  row("Description:", vm.value("description", ""));
  row("vCPUs:", std::to_string(vm.value("vcpus", 0)));
  row("Memory:", formatMib(vm.value("memory_mib", uint64_t{0})));
  row("Disks:", diskSummary(vm));
  for (size_t i = 0; i < vm["nics"].size(); ++i) {
    const auto& n = vm["nics"][i];
    std::string text = n.value("network", "") + " " + n.value("mac", "");
    if (!n.value("port_group", "").empty()) text += " port group " + n.value("port_group", "");
    if (!n.value("ip", "").empty()) text += " ip " + n.value("ip", "");
    if (vm.contains("nic_stats") && i < vm["nic_stats"].size() &&
        vm["nic_stats"][i].contains("rx_bytes"))
      text += fmt::format(" (rx {} B, tx {} B)", vm["nic_stats"][i]["rx_bytes"].get<uint64_t>(),
                          vm["nic_stats"][i]["tx_bytes"].get<uint64_t>());
    row(i == 0 ? "NICs:" : "", text);
  }
  std::string boot = vm.value("image", "");
  row("Boot:", boot.empty() ? vm.value("kernel", "") : "image " + boot);
  if (!vm.value("template", "").empty())
    row("Template:", vm.value("template", "") +
                         (vm.value("linked_clone", false) ? " (linked clone)" : " (full clone)"));
  if (!vm.value("customization", "").empty()) row("Customize:", vm.value("customization", ""));
  if (vm.value("storage", "local") != "local")
    row("Storage:", vm.value("storage", "") + " (shared)");
  row("Accel:",
      vm.value("accel", "auto") +
          (rt.value("accel", "").empty() ? "" : " (running on " + rt.value("accel", "") + ")"));
  if (rt.value("pid", 0) != 0) row("PID:", std::to_string(rt.value("pid", 0)));
  row("Uptime:", uptimeColumn(vm));
  row("Ready after:", readyColumn(vm));
  if (readyColumn(vm) != "-") row("Ready line:", rt.value("ready_line", ""));
  row("Created:", vm.value("created_at", ""));
}

void printResult(CliContext& ctx, const nlohmann::json& j, const std::string& text) {
  if (ctx.json)
    printJson(j);
  else
    std::printf("%s\n", text.c_str());
}

}  // namespace

void addLiveTuning(CliContext& ctx, nlohmann::json& body, const std::string& maxDowntime,
                   const std::string& bandwidth, bool autoConverge) {
  if (!maxDowntime.empty()) {
    auto t = parseDuration(maxDowntime);
    if (!t) ctx.fail(makeError(Errc::invalid_argument, "--max-downtime: " + t.error().message));
    body["max_downtime_ms"] = t->count();
  }
  if (!bandwidth.empty()) {
    auto mib = parseSizeMib(bandwidth);
    if (!mib) ctx.fail(makeError(Errc::invalid_argument, "--bandwidth: " + mib.error().message));
    body["bandwidth_mib"] = *mib;
  }
  if (autoConverge) body["auto_converge"] = true;
}

void addVmCommands(CLI::App& app, CliContext& ctx) {
  auto* vm = app.add_subcommand("vm", "Manage virtual machines")->require_subcommand(1);

  {
    auto* c = vm->add_subcommand(
        "create", "Define VMs, from scratch or from a template (and optionally start them)");
    auto name = std::make_shared<std::string>();
    auto vcpus = std::make_shared<int>(1);
    auto memory = std::make_shared<std::string>("256M");
    auto disks = std::make_shared<std::vector<std::string>>();
    auto nicFlags = std::make_shared<std::vector<std::string>>();
    auto image = std::make_shared<std::string>();
    auto kernel = std::make_shared<std::string>();
    auto initrd = std::make_shared<std::string>();
    auto cmdline = std::make_shared<std::string>();
    auto description = std::make_shared<std::string>();
    auto accel = std::make_shared<std::string>("auto");
    auto templateName = std::make_shared<std::string>();
    auto customization = std::make_shared<std::string>();
    auto storage = std::make_shared<std::string>();
    auto linked = std::make_shared<bool>(false);
    auto full = std::make_shared<bool>(false);
    auto start = std::make_shared<bool>(false);
    auto waitReady = std::make_shared<bool>(false);
    c->add_option("name", *name, "VM name, or a range such as web[1-20] for several")->required();
    auto* vcpusOpt = c->add_option("--vcpus", *vcpus, "virtual CPUs");
    auto* memoryOpt = c->add_option("--memory", *memory, "memory, e.g. 512M or 2G");
    c->add_option("--disk", *disks, "a disk NAME=SIZE (repeatable), e.g. root=1G");
    auto* nicOpt = c->add_option(
        "--nic", *nicFlags, "a NIC: NETWORK or network=N,ip=A,mac=M,port_group=P (repeatable)");
    c->add_option("--image", *image, "guest image to boot, e.g. tiny");
    c->add_option("--kernel", *kernel, "kernel file to boot instead of an image");
    c->add_option("--initrd", *initrd, "initramfs for --kernel");
    auto* cmdlineOpt = c->add_option("--cmdline", *cmdline, "extra kernel command line");
    auto* descriptionOpt = c->add_option("--description", *description, "free text");
    auto* accelOpt = c->add_option("--accel", *accel, "auto, kvm or tcg");
    c->add_option("--template", *templateName, "clone this template instead of defining disks");
    auto* customizationOpt = c->add_option(
        "--customization", *customization,
        "customize the guest with this spec (cloud-init seed; see paddock customization)");
    auto* storageOpt = c->add_option(
        "--storage", *storage,
        "put the disks on this shared storage (paddockd --shared-storage NAME=DIR), so the VM "
        "migrates live without copying them; default: local");
    c->add_flag("--linked", *linked,
                "with --template: disks are overlays on the template's (the default; instant)");
    c->add_flag("--full", *full, "with --template: disks are independent copies");
    c->add_flag("--start", *start, "start them after defining them");
    c->add_flag("--wait-ready", *waitReady, "with --start: wait for the guest's readiness line");
    c->callback([=, &ctx] {
      auto names = ctx.must(expandNameRange(*name));
      nlohmann::json nics = nlohmann::json::array();
      for (const auto& n : *nicFlags) nics.push_back(parseNic(ctx, n));
      if (names.size() > 1) {
        // All or nothing for names: refuse before making any if one is taken.
        auto existing = ctx.must(ctx.client().call("GET", "/v1/vms"));
        for (const auto& vm : existing["vms"])
          if (std::find(names.begin(), names.end(), vm.value("name", "")) != names.end())
            ctx.fail(makeError(
                Errc::conflict,
                fmt::format("VM '{}' already exists; nothing was created", vm.value("name", ""))));
      }
      std::vector<nlohmann::json> made;
      if (!templateName->empty()) {
        if (!disks->empty() || !image->empty() || !kernel->empty() || !initrd->empty())
          ctx.fail(makeError(Errc::invalid_argument,
                             "--disk, --image, --kernel and --initrd cannot be used with "
                             "--template: the template's disks and boot are cloned"));
        if (storageOpt->count())
          ctx.fail(makeError(Errc::invalid_argument,
                             "--storage: a VM from a template stays on local storage, where the "
                             "template is"));
        if (*linked && *full)
          ctx.fail(makeError(Errc::invalid_argument, "--linked and --full exclude each other"));
        nlohmann::json overrides = nlohmann::json::object();
        if (vcpusOpt->count()) overrides["vcpus"] = *vcpus;
        if (memoryOpt->count()) overrides["memory_mib"] = memoryFlag(ctx, *memory);
        if (nicOpt->count()) overrides["nics"] = nics;
        if (cmdlineOpt->count()) overrides["cmdline"] = *cmdline;
        if (descriptionOpt->count()) overrides["description"] = *description;
        if (accelOpt->count()) overrides["accel"] = *accel;
        if (customizationOpt->count()) overrides["customization"] = *customization;
        overrides["linked"] = !*full;
        std::string path = "/v1/templates/" + *templateName + "/deploy";
        if (names.size() == 1) {
          overrides["name"] = names[0];
          made.push_back(runOperation(ctx, "clone " + *templateName + " to " + names[0], path,
                                      overrides, false));
        } else {
          std::vector<int64_t> ids;
          for (const auto& n : names) {
            overrides["name"] = n;
            ids.push_back(
                ctx.must(ctx.client().call("POST", path, overrides)).value("id", int64_t{0}));
          }
          Progress progress(fmt::format("clone {} to {} VMs", *templateName, names.size()));
          for (size_t i = 0; i < ids.size(); ++i) {
            made.push_back(ctx.must(ctx.client().waitOperation(ids[i], nullptr)));
            progress.update(static_cast<int>((i + 1) * 100 / ids.size()),
                            fmt::format("{} of {} made", i + 1, ids.size()));
          }
          progress.done();
        }
      } else {
        if (*linked || *full)
          ctx.fail(makeError(Errc::invalid_argument, "--linked and --full need --template"));
        if (image->empty() && kernel->empty()) *image = "tiny";
        nlohmann::json spec = {{"vcpus", *vcpus},
                               {"memory_mib", memoryFlag(ctx, *memory)},
                               {"disks", parseDisks(ctx, *disks)},
                               {"image", *image},
                               {"kernel", *kernel},
                               {"initrd", *initrd},
                               {"cmdline", *cmdline},
                               {"description", *description},
                               {"accel", *accel},
                               {"customization", *customization},
                               {"nics", nics}};
        if (storageOpt->count()) spec["storage"] = *storage;
        for (const auto& n : names) {
          spec["name"] = n;
          made.push_back(ctx.must(ctx.client().call("POST", "/v1/vms", spec)));
        }
      }
      if (*start) {
        std::vector<int64_t> ids;
        for (const auto& n : names)
          ids.push_back(ctx.must(ctx.client().call("POST", vmPath(n, "/actions/start"),
                                                   {{"wait_ready", *waitReady}}))
                            .value("id", int64_t{0}));
        Progress progress(names.size() == 1 ? "start " + names[0]
                                            : fmt::format("start {} VMs", names.size()));
        for (size_t i = 0; i < ids.size(); ++i) {
          made[i] = ctx.must(ctx.client().waitOperation(
              ids[i], names.size() == 1
                          ? [&](int pct, const std::string& msg) { progress.update(pct, msg); }
                          : std::function<void(int, const std::string&)>()));
          if (names.size() > 1)
            progress.update(static_cast<int>((i + 1) * 100 / ids.size()),
                            fmt::format("{} of {} started", i + 1, ids.size()));
        }
        progress.done();
      }
      std::string what = *start ? "created and started" : "created";
      if (!templateName->empty())
        what += fmt::format(" from template {} ({} clone{})", *templateName,
                            *full ? "full" : "linked", names.size() == 1 ? "" : "s");
      if (names.size() == 1)
        printResult(ctx, made[0], fmt::format("VM {} {}", names[0], what));
      else
        printResult(
            ctx, made,
            fmt::format("{} VMs {}: {} ... {}", names.size(), what, names.front(), names.back()));
    });
  }

  {
    auto* c = vm->add_subcommand("list", "List VMs");
    c->callback([&ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/vms"));
      if (ctx.json) return printJson(out["vms"]);
      printVmTable(out["vms"]);
    });
  }

  {
    auto* c = vm->add_subcommand("show", "Show one VM");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call("GET", vmPath(*name)));
      if (ctx.json) return printJson(out);
      printVm(out);
    });
  }

  {
    auto* c = vm->add_subcommand("start", "Start VMs (concurrently when several are named)");
    auto names = std::make_shared<std::vector<std::string>>();
    auto waitReady = std::make_shared<bool>(false);
    auto noWait = std::make_shared<bool>(false);
    c->add_option("names", *names, "VM names")->required();
    c->add_flag("--wait-ready", *waitReady, "wait for each guest's readiness line");
    c->add_flag("--no-wait", *noWait, "print the operation ids and return");
    c->callback([=, &ctx] {
      std::vector<std::pair<std::string, int64_t>> ops;
      for (const auto& n : *names) {
        auto op = ctx.must(
            ctx.client().call("POST", vmPath(n, "/actions/start"), {{"wait_ready", *waitReady}}));
        ops.emplace_back(n, op.value("id", int64_t{0}));
      }
      nlohmann::json results = nlohmann::json::array();
      std::optional<Error> firstError;
      for (const auto& [n, id] : ops) {
        if (*noWait) {
          results.push_back({{"vm", n}, {"operation", id}});
          if (!ctx.json) std::printf("%s: operation %lld\n", n.c_str(), static_cast<long long>(id));
          continue;
        }
        Progress progress("start " + n);
        auto r = ctx.client().waitOperation(
            id, [&](int p, const std::string& m) { progress.update(p, m); });
        progress.done();
        if (!r) {
          std::fprintf(stderr, "paddock: error: %s\n", r.error().message.c_str());
          if (!firstError) firstError = r.error();
          continue;
        }
        results.push_back(*r);
        if (!ctx.json) {
          std::string ready = (*r)["runtime"].value("ready_line", "");
          std::printf("%s: %s%s\n", n.c_str(), r->value("state", "").c_str(),
                      ready.empty() ? "" : (", " + ready).c_str());
        }
      }
      if (ctx.json) printJson(names->size() == 1 && results.size() == 1 ? results[0] : results);
      if (firstError) throw ExitStatus{kFailed};
    });
  }

  {
    auto* c =
        vm->add_subcommand("shutdown", "Shut down gracefully (ACPI), forcing off after a timeout");
    auto name = std::make_shared<std::string>();
    auto timeout = std::make_shared<std::string>("60s");
    auto noWait = std::make_shared<bool>(false);
    c->add_option("name", *name)->required();
    c->add_option("--timeout", *timeout, "how long the guest gets before it is forced off");
    c->add_flag("--no-wait", *noWait, "print the operation id and return");
    c->callback([=, &ctx] {
      auto t = parseDuration(*timeout);
      if (!t) ctx.fail(makeError(Errc::invalid_argument, "--timeout: " + t.error().message));
      auto r = runOperation(ctx, "shutdown " + *name, vmPath(*name, "/actions/shutdown"),
                            {{"timeout_s", t->count() / 1000}}, *noWait);
      printResult(ctx, r,
                  *noWait ? fmt::format("operation {}", r.value("id", 0))
                          : fmt::format("VM {} is {} ({})", *name, r.value("state", ""),
                                        r["runtime"].value("reason", "")));
    });
  }

  {
    auto* c = vm->add_subcommand(
        "suspend", "Save a running VM's state to a file and end its QEMU (vm resume continues)");
    auto name = std::make_shared<std::string>();
    auto noWait = std::make_shared<bool>(false);
    c->add_option("name", *name)->required();
    c->add_flag("--no-wait", *noWait, "print the operation id and return");
    c->callback([=, &ctx] {
      auto r = runOperation(ctx, "suspend " + *name, vmPath(*name, "/actions/suspend"),
                            nlohmann::json::object(), *noWait);
      printResult(ctx, r,
                  *noWait ? fmt::format("operation {}", r.value("id", 0))
                          : fmt::format("VM {} is {}", *name, r.value("state", "")));
    });
  }

  {
    auto* c = vm->add_subcommand("migrate",
                                 "Move a VM to a peer host (paddock host add): stopped or "
                                 "suspended, or running with --live");
    auto name = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto live = std::make_shared<bool>(false);
    auto noWait = std::make_shared<bool>(false);
    auto downtime = std::make_shared<std::string>();
    auto bandwidth = std::make_shared<std::string>();
    auto autoConverge = std::make_shared<bool>(false);
    auto postCopy = std::make_shared<bool>(false);
    c->add_option("name", *name)->required();
    c->add_option("--to", *to, "the peer host")->required();
    c->add_flag("--live", *live, "while it runs: disks mirrored, then memory, then switch-over");
    c->add_option("--max-downtime", *downtime, "live: longest pause allowed (e.g. 300ms, 1s)");
    c->add_option("--bandwidth", *bandwidth, "live: cap per second (e.g. 100M, 1G; default none)");
    c->add_flag("--auto-converge", *autoConverge,
                "live: slow down a guest that dirties memory faster than it can be sent");
    c->add_flag("--post-copy", *postCopy,
                "live: switch after one pass over memory, fetch the rest on demand (a failure "
                "after the switch loses the guest)");
    c->add_flag("--no-wait", *noWait, "print the operation id and return");
    c->callback([=, &ctx] {
      nlohmann::json body = {{"to", *to}, {"live", *live}};
      addLiveTuning(ctx, body, *downtime, *bandwidth, *autoConverge);
      if (*postCopy) body["post_copy"] = true;
      auto r =
          runOperation(ctx, "migrate " + *name, vmPath(*name, "/actions/migrate"), body, *noWait);
      std::string how =
          r.value("live", false)
              ? fmt::format("live; downtime {} ms, {} ms in all", r.value("downtime_ms", 0),
                            r.value("total_ms", 0))
              : fmt::format("{} MiB sent", r.value("bytes_sent", std::uint64_t{0}) >> 20);
      printResult(
          ctx, r,
          *noWait ? fmt::format("operation {}", r.value("id", 0))
                  : fmt::format("VM {} is on {} ({}; {})", *name, *to, r.value("state", ""), how));
    });
  }

  for (const auto& [verb, help] : std::vector<std::pair<std::string, std::string>>{
           {"stop", "Force a VM off now (a suspended one: discard its saved state)"},
           {"reboot", "Reset a running VM"},
           {"pause", "Pause a running VM's vCPUs"},
           {"resume", "Continue a paused VM, or a suspended one from its saved state"}}) {
    auto* c = vm->add_subcommand(verb, help);
    auto name = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    c->add_option("name", *name)->required();
    if (verb == "resume")
      c->add_flag("--force", *force,
                  "also a VM whose state a live migration sent to another host (after checking "
                  "that the guest does not run there)");
    c->callback([=, &ctx, verb = verb] {
      nlohmann::json body = nlohmann::json::object();
      if (*force) body["force"] = true;
      auto r = ctx.must(ctx.client().call("POST", vmPath(*name, "/actions/" + verb), body));
      printResult(ctx, r, fmt::format("VM {} is {}", *name, r.value("state", "")));
    });
  }

  {
    auto* c = vm->add_subcommand("delete", "Delete a VM and its disks");
    auto name = std::make_shared<std::string>();
    auto force = std::make_shared<bool>(false);
    c->add_option("name", *name)->required();
    c->add_flag("--force", *force, "stop it first if it runs");
    c->callback([=, &ctx] {
      auto r = ctx.must(ctx.client().call("DELETE", vmPath(*name) + (*force ? "?force=true" : "")));
      printResult(ctx, r, fmt::format("VM {} deleted", *name));
    });
  }

  {
    auto* c = vm->add_subcommand("edit",
                                 "Change CPU, memory and disks (while stopped) or the description");
    auto name = std::make_shared<std::string>();
    auto vcpus = std::make_shared<int>(0);
    auto memory = std::make_shared<std::string>();
    auto disks = std::make_shared<std::vector<std::string>>();
    auto removeDisks = std::make_shared<std::vector<std::string>>();
    auto description = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->add_option("--vcpus", *vcpus, "virtual CPUs");
    c->add_option("--memory", *memory, "memory, e.g. 1G");
    c->add_option("--disk", *disks, "add a disk or grow one: NAME=SIZE (repeatable)");
    c->add_option("--remove-disk", *removeDisks, "remove a disk and its data (repeatable)");
    auto* descOpt = c->add_option("--description", *description, "free text");
    auto customization = std::make_shared<std::string>();
    auto* custOpt = c->add_option("--customization", *customization,
                                  "guest customization spec from the next start (\"\" for none)");
    c->callback([=, &ctx] {
      nlohmann::json patch = nlohmann::json::object();
      if (*vcpus != 0) patch["vcpus"] = *vcpus;
      if (!memory->empty()) patch["memory_mib"] = memoryFlag(ctx, *memory);
      if (descOpt->count() > 0) patch["description"] = *description;
      if (custOpt->count() > 0) patch["customization"] = *customization;
      if (!disks->empty() || !removeDisks->empty()) {
        auto current = ctx.must(ctx.client().call("GET", vmPath(*name)));
        nlohmann::json list = current["disks"];
        for (const auto& d : parseDisks(ctx, *disks)) {
          bool found = false;
          for (auto& e : list)
            if (e["name"] == d["name"]) {
              e["size_mib"] = d["size_mib"];
              found = true;
            }
          if (!found) list.push_back(d);
        }
        for (const auto& r : *removeDisks) {
          auto before = list.size();
          list.erase(std::remove_if(list.begin(), list.end(),
                                    [&](const nlohmann::json& e) { return e["name"] == r; }),
                     list.end());
          if (list.size() == before)
            ctx.fail(makeError(Errc::not_found, fmt::format("VM '{}' has no disk '{}'", *name, r)));
        }
        patch["disks"] = list;
      }
      if (patch.empty())
        ctx.fail(makeError(Errc::invalid_argument, "nothing to change: give a flag"));
      auto r = ctx.must(ctx.client().call("PATCH", vmPath(*name), patch));
      if (ctx.json) return printJson(r);
      printVm(r);
    });
  }

  {
    auto* nic = vm->add_subcommand("nic", "A VM's network interfaces (hot-plugged while it runs)")
                    ->require_subcommand(1);
    {
      auto* c = nic->add_subcommand("list", "List a VM's NICs with traffic counters");
      auto name = std::make_shared<std::string>();
      c->add_option("name", *name)->required();
      c->callback([=, &ctx] {
        auto vmj = ctx.must(ctx.client().call("GET", vmPath(*name)));
        if (ctx.json) return printJson(vmj["nic_stats"]);
        Table t({"#", "NETWORK", "MAC", "PORT GROUP", "IP", "RX BYTES", "RX PKTS", "TX BYTES",
                 "TX PKTS", "DROPS"});
        for (size_t i = 0; i < vmj["nics"].size(); ++i) {
          const auto& n = vmj["nics"][i];
          const auto& s = vmj["nic_stats"][i];
          auto num = [&](const char* k) {
            return s.contains(k) ? std::to_string(s[k].get<uint64_t>()) : std::string("-");
          };
          std::string drops = s.contains("rx_dropped")
                                  ? std::to_string(s["rx_dropped"].get<uint64_t>() +
                                                   s["tx_dropped"].get<uint64_t>())
                                  : "-";
          t.add({std::to_string(i), n.value("network", ""), n.value("mac", ""),
                 n.value("port_group", ""), n.value("ip", ""), num("rx_bytes"), num("rx_packets"),
                 num("tx_bytes"), num("tx_packets"), drops});
        }
        t.print();
      });
    }
    {
      auto* c = nic->add_subcommand("add", "Add a NIC");
      auto name = std::make_shared<std::string>();
      auto network = std::make_shared<std::string>();
      auto mac = std::make_shared<std::string>();
      auto portGroup = std::make_shared<std::string>();
      auto ip = std::make_shared<std::string>();
      c->add_option("name", *name)->required();
      c->add_option("--network", *network)->required();
      c->add_option("--mac", *mac, "default: allocated from Paddock's prefix 02:50:44");
      c->add_option("--port-group", *portGroup);
      c->add_option("--ip", *ip, "DHCP reservation");
      c->callback([=, &ctx] {
        auto vmj = ctx.must(ctx.client().call("GET", vmPath(*name)));
        nlohmann::json nics = vmj["nics"];
        nics.push_back(
            {{"network", *network}, {"mac", *mac}, {"port_group", *portGroup}, {"ip", *ip}});
        auto r = ctx.must(ctx.client().call("PATCH", vmPath(*name), {{"nics", nics}}));
        printResult(ctx, r,
                    fmt::format("VM {}: NIC {} on {} ({})", *name, nics.size() - 1, *network,
                                r["nics"].back().value("mac", "")));
      });
    }
    {
      auto* c = nic->add_subcommand("remove", "Remove a NIC by MAC or index");
      auto name = std::make_shared<std::string>();
      auto which = std::make_shared<std::string>();
      c->add_option("name", *name)->required();
      c->add_option("nic", *which, "the NIC's MAC or index (see vm nic list)")->required();
      c->callback([=, &ctx] {
        auto vmj = ctx.must(ctx.client().call("GET", vmPath(*name)));
        nlohmann::json nics = nlohmann::json::array();
        bool removed = false;
        for (size_t i = 0; i < vmj["nics"].size(); ++i) {
          const auto& n = vmj["nics"][i];
          if (!removed && (n.value("mac", "") == *which || std::to_string(i) == *which)) {
            removed = true;
            continue;
          }
          nics.push_back(n);
        }
        if (!removed)
          ctx.fail(
              makeError(Errc::not_found, fmt::format("VM '{}' has no NIC '{}'", *name, *which)));
        auto r = ctx.must(ctx.client().call("PATCH", vmPath(*name), {{"nics", nics}}));
        printResult(ctx, r, fmt::format("VM {}: NIC {} removed", *name, *which));
      });
    }
  }

  {
    auto* c = vm->add_subcommand("console", "Attach to the serial console (Ctrl-] detaches)");
    auto name = std::make_shared<std::string>();
    auto log = std::make_shared<bool>(false);
    auto readOnly = std::make_shared<bool>(false);
    c->add_option("name", *name)->required();
    c->add_flag("--log", *log, "print the console log and return");
    c->add_flag("--read-only", *readOnly, "watch without typing");
    c->callback([=, &ctx] {
      if (*log) {
        auto text = ctx.must(ctx.client().callText("GET", vmPath(*name, "/console/log")));
        std::fwrite(text.data(), 1, text.size(), stdout);
        return;
      }
      auto s = attachConsole(ctx.client(), *name, *readOnly);
      if (!s) ctx.fail(s.error());
    });
  }
}

}  // namespace paddock::cli
