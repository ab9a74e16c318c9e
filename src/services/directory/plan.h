// What `paddock apply` would do: the difference between a directory file and the networks and VMs
// that exist. Pure logic, no I/O, so the daemon can compute a plan for a dry run and for the real
// apply alike.
//
// Networks: one NetworkStep per network of the directory (see network_plan.h). Network creates
// run before every VM step (VMs may have NICs on them), network deletes after every VM step (VM
// deletes free their NICs first).
//
// VMs: ONE step per VM, in the order it must run. `action` is the main change;
// `targetState`, when set, is the power state to bring the VM into after the action:
//   create          create the VM (stopped); targetState running → start it afterwards.
//   update          apply `changes` (the VM has no QEMU process, or only description/labels
//                   change, which need no restart); targetState running → start afterwards,
//                   stopped → shut it down gracefully afterwards (the update itself is live-safe).
//   restart_update  a hardware field changes while the VM has a process: shut down gracefully,
//                   apply `changes`, then start again if targetState is running (stays stopped if
//                   it is stopped). targetState is always set for this action.
//   start           only the power state differs: start it (targetState running).
//   stop            only the power state differs: graceful shutdown (targetState stopped).
//   delete_vm       the VM carries this directory's label but is no longer in the file.
//   unchanged       nothing to do; kept so the plan lists every VM of the directory.
// Power state: desired running starts a VM that is stopped, crashed or stopping; desired stopped
// shuts down one that is starting, running or paused; a file without `state` leaves it alone.
// A paused VM that should be running is left paused: resuming is an operator's call.
//
// Order: deletes, then stops (both free host memory and CPUs before anything new claims them),
// creates, updates (update and restart_update), starts, unchanged; by VM name within each group.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "directory_file/directory_file.h"
#include "model/network_spec.h"
#include "model/vm_state.h"
#include "services/directory/network_plan.h"

namespace paddock {

enum class PlanAction { create, update, restart_update, start, stop, delete_vm, unchanged };
// "create", "update", "restart_update", "start", "stop", "delete", "unchanged".
const char* planActionName(PlanAction a);

struct FieldChange {
  std::string field;        // VmSpec JSON field: "vcpus", "memory_mib", "disks", "labels", ...
  nlohmann::json from, to;  // current and desired values; `from` is null for create

  bool operator==(const FieldChange&) const = default;
};

struct PlanStep {
  std::string vm;
  PlanAction action = PlanAction::unchanged;
  // update/restart_update: the fields that differ. create: every spec field (from null), so the
  // plan alone can describe the new VM.
  std::vector<FieldChange> changes;
  std::optional<VmState> targetState;  // see the table above; nullopt = leave power alone
};

struct PlanCounts {
  int create = 0;
  int update = 0;  // update + restart_update
  int destroy = 0;
  int start = 0;  // start steps plus creates/updates that start afterwards (not restarts)
  int stop = 0;   // stop steps plus updates/restart_updates that leave the VM stopped
  int unchanged = 0;
  int networkCreate = 0;  // networks, counted apart from the VMs above
  int networkDestroy = 0;
  int networkUnchanged = 0;
};

struct Plan {
  std::string directory;
  std::vector<NetworkStep> networks;  // creates, deletes, unchanged (see the order above)
  std::vector<PlanStep> steps;

  bool nothingToDo() const;
  PlanCounts counts() const;
};

// `currentVms` and `currentNetworks` are every VM and network the daemon knows; only those
// labelled paddock.directory == `directory` may be changed or deleted. A desired VM or network
// whose name is taken by one without that label (another directory's or a hand-made one) makes
// the whole plan fail with a conflict error naming it: adopting or overwriting it silently would be
// worse than stopping. Desired specs get the directory label if they lack it, so an update can
// never strip it. Duplicate desired names are invalid_argument. A network the plan deletes while a
// desired VM still has a NIC on it is unprocessable (the delete could only fail).
Result<Plan> computePlan(const std::string& directory,
                         const std::vector<DesiredNetwork>& desiredNetworks,
                         const std::vector<DesiredVm>& desiredVms,
                         const std::vector<NetworkSpec>& currentNetworks,
                         const std::vector<VmRecord>& currentVms);

// {"directory", "network_steps": [{"network", "action", "spec"}],
//  "steps": [{"vm", "action", "changes": [{"field","from","to"}], "target_state"}],
//  "summary": {"create","update","delete","start","stop","unchanged",
//              "networks": {"create","delete","unchanged"}},
//  "nothing_to_do", "text": formatPlan(plan)} — "text" lets the CLI show the plan without linking
// this layer.
nlohmann::json toJson(const Plan& plan);

// Terraform-like text, one line per change, then a blank line and a summary; ends with '\n':
//   + create network lan (nat, 10.7.0.0/24)
//   - delete old1
//   + create web1 (1 vCPU, 256M, tiny)
//   > start web1
//   ~ update db1: memory_mib 512 → 1024
//   ~ update web1: resources.cpu_limit 0.5 → 0.25      (resources: only the fields that differ)
//   - delete network old
//
//   Plan: 1 to create, 1 to update, 1 to delete, 1 to start, 0 to stop; networks: 1 to create, 1
//   to delete.
// The summary counts VMs; "; networks: ..." is added only when a network changes. With nothing
// to change: "Nothing to do: 3 VMs match the directory.\n", or "Nothing to do: 1 network and 3
// VMs match the directory.\n" when the directory has networks.
std::string formatPlan(const Plan& plan);

}  // namespace paddock
