#include "services/directory/plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace paddock {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

VmSpec spec(const std::string& name) {
  VmSpec s;
  s.name = name;
  s.image = "tiny";
  s.labels[kDirectoryLabel] = "lab";
  return s;
}

DesiredVm want(VmSpec s, std::optional<VmState> state = std::nullopt) {
  DesiredVm d;
  d.spec = std::move(s);
  d.state = state;
  return d;
}

VmRecord have(VmSpec s, VmState state) {
  VmRecord r;
  r.spec = std::move(s);
  r.runtime.state = state;
  return r;
}

Plan planOk(const std::vector<DesiredVm>& desired, const std::vector<VmRecord>& current) {
  auto p = computePlan("lab", {}, desired, {}, current);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? *p : Plan{};
}

const PlanStep& onlyStep(const Plan& plan) {
  EXPECT_EQ(plan.steps.size(), 1u);
  static const PlanStep kNone;
  return plan.steps.empty() ? kNone : plan.steps.front();
}

TEST(Plan, MissingVmIsCreatedAndStartedWhenTheFileSaysRunning) {
  auto plan = planOk({want(spec("web1"), VmState::running)}, {});
  const PlanStep& s = onlyStep(plan);
  EXPECT_EQ(s.vm, "web1");
  EXPECT_EQ(s.action, PlanAction::create);
  EXPECT_EQ(s.targetState, VmState::running);
  EXPECT_EQ(plan.counts().create, 1);
  EXPECT_EQ(plan.counts().start, 1);
  EXPECT_FALSE(plan.nothingToDo());
}

TEST(Plan, CreatedVmWithoutStateIsLeftStopped) {
  auto plan = planOk({want(spec("web1"))}, {});
  EXPECT_EQ(onlyStep(plan).action, PlanAction::create);
  EXPECT_FALSE(onlyStep(plan).targetState.has_value());
  EXPECT_EQ(plan.counts().start, 0);
}

TEST(Plan, CreateCarriesTheNewSpecAndAlwaysTheDirectoryLabel) {
  VmSpec s = spec("web1");
  s.labels.clear();  // the plan must add it, or the VM would be unmanaged once created
  auto plan = planOk({want(s)}, {});
  bool sawLabels = false;
  for (const auto& c : onlyStep(plan).changes) {
    EXPECT_TRUE(c.from.is_null());
    if (c.field == "labels") {
      sawLabels = true;
      EXPECT_EQ(c.to, json({{"paddock.directory", "lab"}}));
    }
  }
  EXPECT_TRUE(sawLabels);
}

TEST(Plan, ChangedMemoryOfAStoppedVmIsAnUpdate) {
  VmSpec now = spec("db1");
  now.memoryMib = 512;
  VmSpec then = now;
  then.memoryMib = 1024;
  auto plan = planOk({want(then)}, {have(now, VmState::stopped)});
  const PlanStep& s = onlyStep(plan);
  EXPECT_EQ(s.action, PlanAction::update);
  ASSERT_EQ(s.changes.size(), 1u);
  EXPECT_EQ(s.changes[0], (FieldChange{"memory_mib", 512, 1024}));
  EXPECT_FALSE(s.targetState.has_value());
}

TEST(Plan, HardwareChangeOfARunningVmIsARestartUpdate) {
  VmSpec now = spec("db1");
  VmSpec then = now;
  then.vcpus = 2;
  auto plan = planOk({want(then)}, {have(now, VmState::running)});
  const PlanStep& s = onlyStep(plan);
  EXPECT_EQ(s.action, PlanAction::restart_update);
  EXPECT_EQ(s.targetState, VmState::running);  // no state in the file: comes back as it was
  EXPECT_EQ(plan.counts().update, 1);
  EXPECT_EQ(plan.counts().start, 0);
}

TEST(Plan, RestartUpdateOfAVmTheFileWantsStoppedLeavesItStopped) {
  VmSpec now = spec("db1");
  VmSpec then = now;
  then.disks = {{"data", 1024}};
  auto plan = planOk({want(then, VmState::stopped)}, {have(now, VmState::paused)});
  EXPECT_EQ(onlyStep(plan).action, PlanAction::restart_update);
  EXPECT_EQ(onlyStep(plan).targetState, VmState::stopped);
  EXPECT_EQ(plan.counts().stop, 1);
}

TEST(Plan, DescriptionAndLabelChangesOfARunningVmNeedNoRestart) {
  VmSpec now = spec("web1");
  VmSpec then = now;
  then.description = "front end";
  then.labels["tier"] = "web";
  auto plan = planOk({want(then)}, {have(now, VmState::running)});
  const PlanStep& s = onlyStep(plan);
  EXPECT_EQ(s.action, PlanAction::update);
  EXPECT_EQ(s.changes.size(), 2u);
}

TEST(Plan, ResourceChangesOfARunningVmAreALiveUpdateShownFieldByField) {
  VmSpec now = spec("web1");
  now.resources.cpuLimit = 0.5;
  VmSpec then = now;
  then.resources.cpuLimit = 0.25;
  then.resources.balloonMib = 192;
  auto plan = planOk({want(then)}, {have(now, VmState::running)});
  const PlanStep& s = onlyStep(plan);
  EXPECT_EQ(s.action, PlanAction::update);
  EXPECT_FALSE(s.targetState.has_value());
  ASSERT_EQ(s.changes.size(), 1u);
  EXPECT_EQ(s.changes[0].field, "resources");  // applied as one resources patch
  EXPECT_EQ(formatPlan(plan),
            "~ update web1: resources.balloon_mib 0 → 192, resources.cpu_limit 0.5 → 0.25\n"
            "\n"
            "Plan: 0 to create, 1 to update, 0 to delete, 0 to start, 0 to stop.\n");
  EXPECT_TRUE(planOk({want(then)}, {have(then, VmState::running)}).nothingToDo());
}

TEST(Plan, StoppedOrCrashedVmThatShouldRunIsStarted) {
  for (VmState st : {VmState::stopped, VmState::crashed}) {
    auto plan = planOk({want(spec("web1"), VmState::running)}, {have(spec("web1"), st)});
    EXPECT_EQ(onlyStep(plan).action, PlanAction::start) << vmStateName(st);
    EXPECT_EQ(onlyStep(plan).targetState, VmState::running);
    EXPECT_TRUE(onlyStep(plan).changes.empty());
  }
}

TEST(Plan, RunningVmThatShouldBeStoppedIsStopped) {
  auto plan =
      planOk({want(spec("web1"), VmState::stopped)}, {have(spec("web1"), VmState::running)});
  EXPECT_EQ(onlyStep(plan).action, PlanAction::stop);
  EXPECT_EQ(onlyStep(plan).targetState, VmState::stopped);
  EXPECT_EQ(plan.counts().stop, 1);
}

TEST(Plan, UpdateAndStartOfTheSameVmAreOneStep) {
  VmSpec now = spec("db1");
  VmSpec then = now;
  then.memoryMib = 1024;
  auto plan = planOk({want(then, VmState::running)}, {have(now, VmState::stopped)});
  EXPECT_EQ(onlyStep(plan).action, PlanAction::update);
  EXPECT_EQ(onlyStep(plan).targetState, VmState::running);
  EXPECT_EQ(plan.counts().update, 1);
  EXPECT_EQ(plan.counts().start, 1);
  EXPECT_EQ(formatPlan(plan),
            "~ update db1: memory_mib 256 → 1024\n> start db1\n\n"
            "Plan: 0 to create, 1 to update, 0 to delete, 1 to start, 0 to stop.\n");
}

TEST(Plan, NoStateInTheFileLeavesThePowerStateAlone) {
  auto plan = planOk({want(spec("a")), want(spec("b"))},
                     {have(spec("a"), VmState::running), have(spec("b"), VmState::crashed)});
  EXPECT_TRUE(plan.nothingToDo());
}

TEST(Plan, VmOfThisDirectoryMissingFromTheFileIsDeleted) {
  auto plan = planOk({}, {have(spec("old1"), VmState::running)});
  EXPECT_EQ(onlyStep(plan).action, PlanAction::delete_vm);
  EXPECT_EQ(plan.counts().destroy, 1);
}

TEST(Plan, DeletesOnlyVmsCarryingItsOwnLabel) {
  VmSpec other = spec("other1");
  other.labels[kDirectoryLabel] = "prod";
  VmSpec handMade = spec("pet");
  handMade.labels.clear();
  auto plan = planOk({}, {have(other, VmState::running), have(handMade, VmState::stopped),
                          have(spec("old1"), VmState::stopped)});
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].vm, "old1");
  EXPECT_EQ(plan.steps[0].action, PlanAction::delete_vm);
}

TEST(Plan, UnmanagedVmWithTheSameNameIsRefused) {
  VmSpec handMade = spec("web1");
  handMade.labels.clear();
  auto p = computePlan("lab", {}, {want(spec("web1"))}, {}, {have(handMade, VmState::running)});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::conflict);
  EXPECT_EQ(p.error().field, "web1");
  EXPECT_THAT(p.error().message, HasSubstr("'web1' (not managed by any directory)"));
}

TEST(Plan, VmOfAnotherDirectoryWithTheSameNameIsRefusedNamingThatDirectory) {
  VmSpec theirs = spec("web1");
  theirs.labels[kDirectoryLabel] = "prod";
  VmSpec also = spec("web2");
  also.labels.clear();
  auto p = computePlan("lab", {}, {want(spec("web1")), want(spec("web2"))}, {},
                       {have(theirs, VmState::running), have(also, VmState::stopped)});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::conflict);
  EXPECT_THAT(p.error().message, HasSubstr("'web1' (managed by directory 'prod')"));
  EXPECT_THAT(p.error().message, HasSubstr("and 1 more: 'web2'"));
}

TEST(Plan, DuplicateDesiredNamesAreRefused) {
  auto p = computePlan("lab", {}, {want(spec("a")), want(spec("a"))}, {}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::invalid_argument);
}

TEST(Plan, SecondApplyOfTheSameStateIsNothingToDo) {
  VmSpec db = spec("db1");
  db.vcpus = 2;
  std::vector<DesiredVm> desired = {want(spec("web1"), VmState::running), want(db),
                                    want(spec("web2"), VmState::stopped)};
  auto first = planOk(desired, {});
  EXPECT_EQ(first.counts().create, 3);

  // What the daemon holds after carrying out the first plan.
  std::vector<VmRecord> after = {have(spec("web1"), VmState::running), have(db, VmState::stopped),
                                 have(spec("web2"), VmState::stopped)};
  auto second = planOk(desired, after);
  EXPECT_TRUE(second.nothingToDo());
  EXPECT_EQ(second.steps.size(), 3u);
  EXPECT_EQ(formatPlan(second), "Nothing to do: 3 VMs match the directory.\n");
}

TEST(Plan, StepsRunDeletesStopsCreatesUpdatesStartsInThatOrder) {
  VmSpec changed = spec("b-upd");
  changed.memoryMib = 512;
  auto plan =
      planOk({want(spec("z-new")), want(spec("a-new")), want(changed),
              want(spec("c-start"), VmState::running), want(spec("d-stop"), VmState::stopped),
              want(spec("e-same"))},
             {have(spec("b-upd"), VmState::stopped), have(spec("c-start"), VmState::stopped),
              have(spec("d-stop"), VmState::running), have(spec("e-same"), VmState::running),
              have(spec("y-old"), VmState::stopped)});
  std::vector<std::string> order;
  for (const auto& s : plan.steps)
    order.push_back(std::string(planActionName(s.action)) + " " + s.vm);
  EXPECT_EQ(order,
            (std::vector<std::string>{"delete y-old", "stop d-stop", "create a-new", "create z-new",
                                      "update b-upd", "start c-start", "unchanged e-same"}));
}

TEST(Plan, FormatsLikeTerraformWithASummary) {
  VmSpec now = spec("db1");
  VmSpec then = now;
  then.vcpus = 2;
  then.disks = {{"root", 2048}};
  auto plan = planOk({want(spec("web1"), VmState::running), want(then)},
                     {have(now, VmState::running), have(spec("old1"), VmState::stopped)});
  EXPECT_EQ(formatPlan(plan),
            "- delete old1\n"
            "+ create web1 (1 vCPU, 256M, tiny)\n"
            "> start web1\n"
            "~ update db1 (shut down and restart): vcpus 1 → 2, disks [] → [root 2G]\n"
            "\n"
            "Plan: 1 to create, 1 to update, 1 to delete, 1 to start, 0 to stop.\n");
}

TEST(Plan, JsonFormCarriesStepsSummaryAndText) {
  auto plan =
      planOk({want(spec("web1"), VmState::running)}, {have(spec("old1"), VmState::stopped)});
  json j = toJson(plan);
  EXPECT_EQ(j["directory"], "lab");
  ASSERT_EQ(j["steps"].size(), 2u);
  EXPECT_EQ(j["steps"][0]["action"], "delete");
  EXPECT_TRUE(j["steps"][0]["target_state"].is_null());
  EXPECT_EQ(j["steps"][1]["action"], "create");
  EXPECT_EQ(j["steps"][1]["target_state"], "running");
  EXPECT_EQ(j["summary"], json({{"create", 1},
                                {"update", 0},
                                {"delete", 1},
                                {"start", 1},
                                {"stop", 0},
                                {"unchanged", 0},
                                {"networks", {{"create", 0}, {"delete", 0}, {"unchanged", 0}}}}));
  EXPECT_EQ(j["network_steps"], json::array());
  EXPECT_EQ(j["nothing_to_do"], false);
  EXPECT_EQ(j["text"], formatPlan(plan));
}

TEST(Plan, EmptyDirectoryWithNoVmsIsNothingToDo) {
  auto plan = planOk({}, {});
  EXPECT_TRUE(plan.nothingToDo());
  EXPECT_EQ(formatPlan(plan), "Nothing to do: 0 VMs match the directory.\n");
}

NetworkSpec network(const std::string& name, NetworkKind kind, const std::string& subnet) {
  NetworkSpec s;
  s.name = name;
  s.kind = kind;
  s.subnet = subnet;
  s.labels[kDirectoryLabel] = "lab";
  return s;
}

DesiredNetwork wantNet(NetworkSpec s) {
  DesiredNetwork d;
  d.spec = std::move(s);
  return d;
}

// What the daemon stores once it has created `s`: the defaults filled in.
NetworkSpec created(NetworkSpec s) {
  EXPECT_TRUE(completeNetworkSpec(s).ok());
  return s;
}

VmSpec withNic(VmSpec s, const std::string& network) {
  s.nics.push_back(NicSpec{network, "", "", ""});
  return s;
}

Result<Plan> planWith(const std::vector<DesiredNetwork>& networks,
                      const std::vector<DesiredVm>& vms,
                      const std::vector<NetworkSpec>& currentNetworks,
                      const std::vector<VmRecord>& currentVms) {
  return computePlan("lab", networks, vms, currentNetworks, currentVms);
}

TEST(PlanNetworks, NewNetworkIsCreatedWithTheDirectoryLabelBeforeTheVmsThatUseIt) {
  NetworkSpec lan = network("lan", NetworkKind::nat, "10.7.0.0/24");
  lan.labels.clear();  // the plan must add it, or apply could never delete the network again
  auto p = planWith({wantNet(lan)}, {want(withNic(spec("web1"), "lan"))}, {}, {});
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->networks.size(), 1u);
  EXPECT_EQ(p->networks[0].network, "lan");
  EXPECT_EQ(p->networks[0].action, NetworkAction::create);
  EXPECT_EQ(p->networks[0].spec.labels,
            (std::map<std::string, std::string>{{kDirectoryLabel, "lab"}}));
  EXPECT_EQ(p->networks[0].spec.subnet, "10.7.0.0/24");
  EXPECT_EQ(p->counts().networkCreate, 1);
  EXPECT_FALSE(p->nothingToDo());
  EXPECT_EQ(formatPlan(*p),
            "+ create network lan (nat, 10.7.0.0/24)\n"
            "+ create web1 (1 vCPU, 256M, tiny)\n"
            "\n"
            "Plan: 1 to create, 0 to update, 0 to delete, 0 to start, 0 to stop; networks: 1 to "
            "create, 0 to delete.\n");
}

TEST(PlanNetworks, CreateLinesSayKindAndSubnetOrUplink) {
  NetworkSpec seg = network("seg", NetworkKind::bridge, "");
  seg.uplink = "eth1";
  auto p = planWith({wantNet(network("any", NetworkKind::internal, "")), wantNet(seg),
                     wantNet(network("usr", NetworkKind::user, ""))},
                    {}, {}, {});
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(formatPlan(*p),
            "+ create network any (internal, any free subnet)\n"
            "+ create network seg (bridge, uplink eth1)\n"
            "+ create network usr (user)\n"
            "\n"
            "Plan: 0 to create, 0 to update, 0 to delete, 0 to start, 0 to stop; networks: 3 to "
            "create, 0 to delete.\n");
}

TEST(PlanNetworks, NetworkOfThisDirectoryMissingFromTheFileIsDeletedAfterEveryVmStep) {
  auto p = planWith({}, {want(spec("new1"))},
                    {created(network("lan", NetworkKind::internal, "10.7.0.0/24"))},
                    {have(withNic(spec("old1"), "lan"), VmState::running)});
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->networks.size(), 1u);
  EXPECT_EQ(p->networks[0].action, NetworkAction::delete_network);
  EXPECT_EQ(p->counts().networkDestroy, 1);
  EXPECT_EQ(formatPlan(*p),
            "- delete old1\n"
            "+ create new1 (1 vCPU, 256M, tiny)\n"
            "- delete network lan\n"
            "\n"
            "Plan: 1 to create, 0 to update, 1 to delete, 0 to start, 0 to stop; networks: 0 to "
            "create, 1 to delete.\n");
  json j = toJson(*p);
  EXPECT_EQ(j["network_steps"][0]["network"], "lan");
  EXPECT_EQ(j["network_steps"][0]["action"], "delete");
  EXPECT_EQ(j["summary"]["networks"], json({{"create", 0}, {"delete", 1}, {"unchanged", 0}}));
}

TEST(PlanNetworks, DeletesOnlyNetworksCarryingItsOwnLabel) {
  NetworkSpec theirs = network("prod-lan", NetworkKind::internal, "10.1.0.0/24");
  theirs.labels[kDirectoryLabel] = "prod";
  NetworkSpec handMade = network("pets", NetworkKind::internal, "10.2.0.0/24");
  handMade.labels.clear();
  auto p = planWith({}, {}, {theirs, handMade, network("old", NetworkKind::user, "")}, {});
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->networks.size(), 1u);
  EXPECT_EQ(p->networks[0].network, "old");
  EXPECT_EQ(p->networks[0].action, NetworkAction::delete_network);
}

TEST(PlanNetworks, NetworksAsTheDaemonMadeThemAreUnchangedAndASecondApplyHasNothingToDo) {
  NetworkSpec back = network("back", NetworkKind::internal, "10.8.0.0/24");
  back.dhcpStart = "10.8.0.50";
  back.dhcpEnd = "10.8.0.99";
  back.domain = "back.lab";
  back.portGroups = {{"db", 20}};
  NetworkSpec lan = network("lan", NetworkKind::nat, "10.7.0.0/24");
  lan.forwards = {Forward{"tcp", 8080, "web1", 80}};
  NetworkSpec any = network("any", NetworkKind::nat, "");  // the daemon picked 10.100.0.0/24
  NetworkSpec picked = any;
  picked.subnet = "10.100.0.0/24";
  NetworkSpec usr = network("usr", NetworkKind::user, "");
  NetworkSpec seg = network("seg", NetworkKind::bridge, "");
  seg.uplink = "eth1";
  std::vector<DesiredNetwork> desired = {wantNet(back), wantNet(lan), wantNet(any), wantNet(usr),
                                         wantNet(seg)};
  auto p = planWith(desired, {want(withNic(spec("web1"), "lan"))},
                    {created(back), created(lan), created(picked), created(usr), created(seg)},
                    {have(withNic(spec("web1"), "lan"), VmState::stopped)});
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_EQ(p->networks.size(), 5u);
  for (const auto& n : p->networks) EXPECT_EQ(n.action, NetworkAction::unchanged) << n.network;
  EXPECT_TRUE(p->nothingToDo());
  EXPECT_EQ(formatPlan(*p), "Nothing to do: 5 networks and 1 VM match the directory.\n");
}

TEST(PlanNetworks, ChangedNetworkIsRefusedNamingTheFieldsThatDiffer) {
  NetworkSpec now = created(network("lan", NetworkKind::nat, "10.7.0.0/24"));
  NetworkSpec then = network("lan", NetworkKind::nat, "10.9.0.0/24");
  auto p = planWith({wantNet(then)}, {}, {now}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::unprocessable);
  EXPECT_EQ(p.error().message,
            "network 'lan' differs from the file (subnet 10.7.0.0/24 → 10.9.0.0/24): Paddock "
            "cannot change a network in place yet; delete it first");
  EXPECT_EQ(p.error().field, "networks.lan.subnet");

  then = network("lan", NetworkKind::nat, "10.7.0.0/24");
  then.dhcpStart = "10.7.0.100";
  then.dhcpEnd = "10.7.0.199";
  then.description = "front";
  p = planWith({wantNet(then)}, {}, {now}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message,
              HasSubstr("(dhcp_range 10.7.0.10-10.7.0.253 → 10.7.0.100-10.7.0.199, description "
                        "(none) → front)"));
  EXPECT_EQ(p.error().field, "networks.lan.dhcp_start");
}

TEST(PlanNetworks, NetworkWithTheSameNameNotOwnedByTheDirectoryIsAConflict) {
  NetworkSpec handMade = created(network("lan", NetworkKind::internal, "10.7.0.0/24"));
  handMade.labels.clear();
  auto p =
      planWith({wantNet(network("lan", NetworkKind::internal, "10.7.0.0/24"))}, {}, {handMade}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::conflict);
  EXPECT_EQ(p.error().field, "networks.lan");
  EXPECT_THAT(p.error().message,
              HasSubstr("network 'lan' (not managed by any directory) already exists and "
                        "directory 'lab' will not take it over"));

  NetworkSpec theirs = handMade;
  theirs.labels[kDirectoryLabel] = "prod";
  p = planWith({wantNet(network("lan", NetworkKind::internal, "10.7.0.0/24"))}, {}, {theirs}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, HasSubstr("(managed by directory 'prod')"));
}

TEST(PlanNetworks, DroppingANetworkThatAVmOfTheFileStillUsesIsRefused) {
  auto p = planWith({}, {want(withNic(spec("web1"), "lan"))},
                    {created(network("lan", NetworkKind::internal, "10.7.0.0/24"))},
                    {have(withNic(spec("web1"), "lan"), VmState::stopped)});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::unprocessable);
  EXPECT_EQ(p.error().field, "vms.web1.nics[0].network");
  EXPECT_THAT(p.error().message, HasSubstr("network 'lan' is no longer in the file"));
}

TEST(PlanNetworks, DuplicateDesiredNetworkNamesAreRefused) {
  NetworkSpec lan = network("lan", NetworkKind::user, "");
  auto p = planWith({wantNet(lan), wantNet(lan)}, {}, {}, {});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace paddock
