// paddock network create|list|show|delete|leases
#include <fmt/format.h>

#include "cli/cli_context.h"
#include "cli/output.h"

namespace paddock::cli {

namespace {

// "name:vlan", e.g. "web:10".
nlohmann::json parsePortGroup(CliContext& ctx, const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos)
    ctx.fail(makeError(Errc::invalid_argument, "--port-group must be NAME:VLAN, e.g. web:10"));
  std::string vlan = text.substr(colon + 1);
  if (vlan.empty() || vlan.find_first_not_of("0123456789") != std::string::npos || vlan.size() > 6)
    ctx.fail(makeError(Errc::invalid_argument,
                       fmt::format("--port-group {}: '{}' is not a VLAN id", text, vlan)));
  return {{"name", text.substr(0, colon)}, {"vlan", std::stoi(vlan)}};
}

}  // namespace

void addNetworkCommands(CLI::App& app, CliContext& ctx) {
  auto* net = app.add_subcommand("network", "Virtual networks")->require_subcommand(1);
  {
    auto* c = net->add_subcommand("create", "Create a network: a switch with DHCP and DNS");
    auto name = std::make_shared<std::string>();
    auto kind = std::make_shared<std::string>("internal");
    auto subnet = std::make_shared<std::string>();
    auto range = std::make_shared<std::string>();
    auto domain = std::make_shared<std::string>();
    auto description = std::make_shared<std::string>();
    auto portGroups = std::make_shared<std::vector<std::string>>();
    auto forwards = std::make_shared<std::vector<std::string>>();
    auto uplink = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->add_option("--kind", *kind,
                  "internal (guests reach each other only), nat (and the outside through the "
                  "host), bridge (guests join --uplink's segment) or user (QEMU user-mode, no "
                  "privileges needed)");
    c->add_option("--uplink", *uplink,
                  "bridge networks: the host interface (or existing bridge) guests join");
    c->add_option("--subnet", *subnet,
                  "IPv4 subnet, e.g. 10.7.0.0/24 (default: a free 10.x.y.0/24)");
    c->add_option("--dhcp-range", *range, "START-END inside the subnet (default .10 to the end)");
    c->add_option("--domain", *domain, "DNS domain for guest names (default NAME.paddock)");
    c->add_option("--port-group", *portGroups, "NAME:VLAN, a VLAN-tagged port group (repeatable)");
    c->add_option(
        "--forward", *forwards,
        "PROTO:HOSTPORT:VM:GUESTPORT, e.g. tcp:8080:web1:80 (nat: the VM's NIC needs an ip=; "
        "user)");
    c->add_option("--description", *description);
    c->callback([=, &ctx] {
      nlohmann::json spec = {{"name", *name},
                             {"kind", *kind},
                             {"subnet", *subnet},
                             {"domain", *domain},
                             {"description", *description}};
      if (!uplink->empty()) spec["uplink"] = *uplink;
      if (!range->empty()) {
        auto dash = range->find('-');
        if (dash == std::string::npos)
          ctx.fail(makeError(Errc::invalid_argument, "--dhcp-range must be START-END"));
        spec["dhcp_start"] = range->substr(0, dash);
        spec["dhcp_end"] = range->substr(dash + 1);
      }
      nlohmann::json pgs = nlohmann::json::array();
      for (const auto& pg : *portGroups) pgs.push_back(parsePortGroup(ctx, pg));
      spec["port_groups"] = pgs;
      spec["forwards"] = *forwards;
      auto r = ctx.must(ctx.client().call("POST", "/v1/networks", spec));
      if (ctx.json) return printJson(r);
      std::string kindName = r.value("kind", "");
      if (kindName == "user")
        std::printf("network %s created: user-mode %s inside each VM, guests get %s\n",
                    name->c_str(), r.value("subnet", "").c_str(),
                    r.value("dhcp_start", "").c_str());
      else if (kindName == "bridge")
        std::printf("network %s created: bridge %s with uplink %s\n", name->c_str(),
                    r.value("bridge", "").c_str(), r.value("uplink", "").c_str());
      else
        std::printf("network %s created: %s, gateway %s, bridge %s\n", name->c_str(),
                    r.value("subnet", "").c_str(), r.value("gateway", "").c_str(),
                    r.value("bridge", "").c_str());
    });
  }
  {
    auto* c = net->add_subcommand("list", "List networks");
    c->callback([&ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/networks"));
      if (ctx.json) return printJson(out["networks"]);
      Table t({"NAME", "KIND", "SUBNET", "GATEWAY", "DHCP", "NICS", "BRIDGE", "UPLINK", "UP",
               "DESCRIPTION"});
      for (const auto& n : out["networks"]) {
        std::string start = n.value("dhcp_start", "");
        t.add({n.value("name", ""), n.value("kind", ""), n.value("subnet", ""),
               n.value("gateway", ""), start.empty() ? "" : start + "-" + n.value("dhcp_end", ""),
               std::to_string(n["nics"].size()), n.value("bridge", ""), n.value("uplink", ""),
               n.value("up", false) ? "yes" : "no", n.value("description", "")});
      }
      t.print();
    });
  }
  {
    auto* c = net->add_subcommand("show", "Show a network");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback(
        [=, &ctx] { printJson(ctx.must(ctx.client().call("GET", "/v1/networks/" + *name))); });
  }
  {
    auto* c = net->add_subcommand("delete", "Delete a network (refused while VMs have NICs on it)");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] {
      ctx.must(ctx.client().call("DELETE", "/v1/networks/" + *name));
      if (!ctx.json) std::printf("network %s deleted\n", name->c_str());
    });
  }
  {
    auto* c = net->add_subcommand("leases", "Show a network's DHCP leases");
    auto name = std::make_shared<std::string>();
    c->add_option("name", *name)->required();
    c->callback([=, &ctx] {
      auto out = ctx.must(ctx.client().call("GET", "/v1/networks/" + *name + "/leases"));
      if (ctx.json) return printJson(out["leases"]);
      Table t({"MAC", "IP", "HOSTNAME", "EXPIRES"});
      for (const auto& l : out["leases"])
        t.add({l.value("mac", ""), l.value("ip", ""), l.value("hostname", ""),
               std::to_string(l.value("expiry", int64_t{0}))});
      t.print();
    });
  }
}

}  // namespace paddock::cli
