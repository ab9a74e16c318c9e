// paddock host info | add | list | show | evacuate | remove
#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"
#include "common/files.h"
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
    if (auto shared = h.find("shared_storages"); shared != h.end() && shared->is_object())
      for (auto it = shared->begin(); it != shared->end(); ++it)
        row("Shared storage:", fmt::format("{} = {}", it.key(), it.value().get<std::string>()));
    row("Paddock:", h.value("paddock_version", ""));
  });

  {
    auto* c = host->add_subcommand("add", "Register a peer paddockd (checked: it must answer)");
    auto name = std::make_shared<std::string>();
    auto address = std::make_shared<std::string>();
    auto tokenFile = std::make_shared<std::string>();
    c->add_option("name", *name, "what to call the peer here")->required();
    c->add_option("--address", *address, "the peer's --listen HOST:PORT")->required();
    c->add_option("--token-file", *tokenFile, "file with the peer's API token (its STATE/token)")
        ->required();
    c->callback([=, &ctx] {
      auto token = readFile(*tokenFile);
      if (!token)
        ctx.fail(makeError(Errc::invalid_argument,
                           fmt::format("--token-file {}: {}", *tokenFile, token.error().message)));
      while (!token->empty() && std::isspace(static_cast<unsigned char>(token->back())))
        token->pop_back();
      auto peer = ctx.must(ctx.client().call(
          "POST", "/v1/peers", {{"name", *name}, {"address", *address}, {"token", *token}}));
      if (ctx.json) return printJson(peer);
      std::printf("added host %s (%s, %s)\n", name->c_str(), address->c_str(),
                  peer.value("accelerator", "?").c_str());
    });
  }
  {
    auto* c = host->add_subcommand("list", "This host and its peers: reachability and capacity");
    c->callback([&ctx] {
      auto self = ctx.must(ctx.client().call("GET", "/v1/host"));
      auto peers = ctx.must(ctx.client().call("GET", "/v1/peers"));
      if (ctx.json) return printJson({{"self", self}, {"peers", peers["peers"]}});
      Table t({"NAME", "ADDRESS", "REACHABLE", "ACCEL", "CPU MODEL", "CPUS", "MEM AVAIL", "VMS",
               "ERROR"});
      auto row = [&t](const std::string& name, const std::string& address,
                      const nlohmann::json& h) {
        bool up = h.value("reachable", true);
        t.add({name, address, up ? "yes" : "no", h.value("accelerator", ""),
               h.value("cpu_model", ""), up ? std::to_string(h.value("cpus", 0)) : "",
               up ? formatMib(h.value("memory_available_mib", uint64_t{0})) : "",
               up ? std::to_string(h.value("running_vms", 0)) : "", h.value("error", "")});
      };
      row(self.value("hostname", "") + " (this host)", "-", self);
      for (const auto& p : peers["peers"]) row(p.value("name", ""), p.value("address", ""), p);
      t.print();
    });
  }
  {
    auto* c = host->add_subcommand("show", "Show a peer host (asked live)");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] { printJson(ctx.must(ctx.client().call("GET", "/v1/peers/" + *name))); });
  }
  {
    auto* c = host->add_subcommand(
        "evacuate", "Maintenance: live-migrate every running and paused VM of this host to a peer");
    auto name = std::make_shared<std::string>();
    auto to = std::make_shared<std::string>();
    auto downtime = std::make_shared<std::string>();
    auto bandwidth = std::make_shared<std::string>();
    auto autoConverge = std::make_shared<bool>(false);
    auto noWait = std::make_shared<bool>(false);
    c->add_option("name", *name, "this host: its hostname (as host list shows it) or 'local'")
        ->required();
    c->add_option("--to", *to, "the peer host that takes the VMs")->required();
    c->add_option("--max-downtime", *downtime, "longest pause allowed per VM (e.g. 300ms)");
    c->add_option("--bandwidth", *bandwidth, "cap per second (e.g. 100M; default none)");
    c->add_flag("--auto-converge", *autoConverge, "slow down guests that dirty memory too fast");
    c->add_flag("--no-wait", *noWait, "print the operation id and return");
    c->callback([=, &ctx] {
      auto self = ctx.must(ctx.client().call("GET", "/v1/host"));
      std::string here = self.value("hostname", "");
      if (*name != "local" && *name != here)
        ctx.fail(makeError(Errc::invalid_argument,
                           fmt::format("'{}' is not this host ('{}'): run host evacuate against "
                                       "the host to empty (paddock --host ADDRESS ...)",
                                       *name, here)));
      nlohmann::json body = {{"to", *to}};
      addLiveTuning(ctx, body, *downtime, *bandwidth, *autoConverge);
      auto r = runOperation(ctx, "evacuate " + here, "/v1/host/actions/evacuate", body, *noWait);
      if (ctx.json) return printJson(r);
      if (*noWait) return fmt::print("operation {}\n", r.value("id", 0));
      for (const auto& m : r["moved"])
        fmt::print("VM {} is on {} ({}; downtime {} ms)\n", m.value("vm", ""), *to,
                   m.value("state", ""), m.value("downtime_ms", 0));
      fmt::print("{} VM(s) moved to {}\n", r["moved"].size(), *to);
    });
  }
  {
    auto* c = host->add_subcommand("remove", "Forget a peer host");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] {
      ctx.must(ctx.client().call("DELETE", "/v1/peers/" + *name));
      if (!ctx.json) std::printf("removed host %s\n", name->c_str());
    });
  }
}

}  // namespace paddock::cli
