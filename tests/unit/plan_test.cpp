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
  auto p = computePlan("lab", desired, current);
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
  auto p = computePlan("lab", {want(spec("web1"))}, {have(handMade, VmState::running)});
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
  auto p = computePlan("lab", {want(spec("web1")), want(spec("web2"))},
                       {have(theirs, VmState::running), have(also, VmState::stopped)});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code, Errc::conflict);
  EXPECT_THAT(p.error().message, HasSubstr("'web1' (managed by directory 'prod')"));
  EXPECT_THAT(p.error().message, HasSubstr("and 1 more: 'web2'"));
}

TEST(Plan, DuplicateDesiredNamesAreRefused) {
  auto p = computePlan("lab", {want(spec("a")), want(spec("a"))}, {});
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
                                {"unchanged", 0}}));
  EXPECT_EQ(j["nothing_to_do"], false);
  EXPECT_EQ(j["text"], formatPlan(plan));
}

TEST(Plan, EmptyDirectoryWithNoVmsIsNothingToDo) {
  auto plan = planOk({}, {});
  EXPECT_TRUE(plan.nothingToDo());
  EXPECT_EQ(formatPlan(plan), "Nothing to do: 0 VMs match the directory.\n");
}

}  // namespace
}  // namespace paddock
