// IncomingMigrations' live path: empty disks, a QEMU waiting for the stream, NBD exports for
// the source's mirrors; at commit the QEMU becomes the VM.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/net_port.h"
#include "images/qemu_img.h"
#include "services/host_info.h"
#include "services/migration/incoming_migrations.h"

namespace paddock {

namespace {

constexpr std::chrono::seconds kLoadTimeout{30};

// `count` consecutive TCP ports free on `host` now (QEMU binds them right after); an error names
// listen_host, the field the source sent it in.
Result<int> freePorts(const std::string& host, int count) {
  auto port = freeTcpPorts(host, count);
  if (!port)
    return makeError(Errc::invalid_argument,
                     fmt::format("listen_host: {} (the address the source reaches this host at)",
                                 port.error().message),
                     "listen_host");
  return port;
}

}  // namespace

Result<nlohmann::json> IncomingMigrations::prepareLive(const nlohmann::json& request,
                                                       IncomingPtr in) {
  const VmSpec& spec = in->spec;
  in->accel = request.value("accel", "");
  if (in->accel != "kvm" && in->accel != "tcg")
    return makeError(Errc::invalid_argument, "accel must be kvm or tcg", "accel");
  // Under KVM the guest sees the host's CPU, which must not change under it; TCG emulates the
  // same CPU everywhere.
  std::string theirs = request.value("cpu_model", "");
  if (in->accel == "kvm" && theirs != cpuModel())
    return makeError(Errc::unprocessable,
                     fmt::format("the VM runs under KVM on a '{}' and this host has a '{}': a "
                                 "running guest cannot change CPU (migrate it stopped)",
                                 theirs, cpuModel()),
                     "cpu_model");
  if (std::uint64_t avail = memAvailableMib(); avail < spec.memoryMib)
    return makeError(Errc::unprocessable,
                     fmt::format("VM '{}' needs {} MiB and this host has {} MiB available",
                                 spec.name, spec.memoryMib, avail),
                     "vm");
  const auto& snaps = request.value("snapshots", nlohmann::json::array());
  if (!snaps.is_array() || !snaps.empty())
    return makeError(Errc::invalid_argument,
                     "snapshots: a live migration moves no snapshots (they stay inside the "
                     "source's disk images)",
                     "snapshots");
  std::string listenHost = request.value("listen_host", "");
  if (listenHost.empty())
    return makeError(Errc::invalid_argument, "listen_host: where the source reaches this host",
                     "listen_host");
  // The migration stream on the first, the NBD export on the next.
  auto ports = freePorts(listenHost, 2);
  if (!ports) return ports.error();
  in->migrationPort = *ports;
  in->nbdPort = *ports + 1;
  in->listenHost = listenHost;

  if (!spec.storage.empty()) {
    auto folder = checkSharedStorage(request, spec);
    if (!folder) return folder.error();
    in->diskFolder = *folder;
  } else if (request.contains("shared_storage")) {
    return makeError(Errc::invalid_argument,
                     "shared_storage: the VM's disks are not on a shared storage",
                     "shared_storage");
  }

  in->dir = stateDir_ + "/incoming/" + in->id;
  PADDOCK_TRY(makeDirs(in->dir + "/disks", 0750));
  auto fail = [&](Error e) -> Error {
    discard(*in);
    return e;
  };
  // Empty disks of the same sizes; a linked clone's again on this host's copy of its template,
  // and only its own layer is mirrored. On shared storage the QEMU opens the VM's own disks:
  // memory is all that travels.
  std::vector<std::string> ids;
  if (in->diskFolder.empty()) in->diskFolder = in->dir + "/disks";
  for (const auto& d : spec.disks) {
    if (!spec.storage.empty()) break;
    std::string path = in->dir + "/disks/" + d.name + ".qcow2";
    Status made;
    if (spec.linkedClone) {
      std::string base = templates_.templateDir(spec.templateName) + "/" + d.name + ".qcow2";
      if (!pathExists(base))
        return fail(makeError(Errc::unprocessable,
                              fmt::format("template '{}' (the linked clone's base) is not on "
                                          "this host: migrate the VM stopped once, or deploy "
                                          "the template here first",
                                          spec.templateName),
                              "template"));
      made = createOverlay(path, base);
    } else {
      made = createQcow2(path, d.sizeMib);
    }
    if (!made) return fail(made.error());
    ids.push_back(d.name);
  }
  auto proc = vms_.startIncoming(spec, in->diskFolder, in->accel, listenHost, in->migrationPort);
  if (!proc) return fail(proc.error());
  in->process = std::move(*proc);
  if (spec.storage.empty())  // commitLive stops the exports under the same condition
    if (auto s = in->process->exportDisks(listenHost, in->nbdPort, ids); !s) return fail(s.error());
  const auto& postCopy = request.value("post_copy", nlohmann::json(false));
  if (!postCopy.is_boolean())
    return fail(makeError(Errc::invalid_argument, "post_copy must be a boolean", "post_copy"));
  if (postCopy.get<bool>()) {
    if (auto s = in->process->acceptPostCopy(); !s)
      return fail(
          makeError(Errc::unprocessable,
                    "post_copy: this host cannot take a post-copy migration: " + s.error().message,
                    "post_copy"));
  }
  in->lastMs = nowMs();
  {
    std::lock_guard lock(mutex_);
    incoming_[in->id] = in;
  }
  events_.publish("vm.migration.incoming", "vm/" + spec.name,
                  {{"from", in->from}, {"live", true}, {"id", in->id}});
  return nlohmann::json{{"id", in->id},
                        {"migration_port", in->migrationPort},
                        {"nbd_port", in->nbdPort},
                        {"disks", ids}};
}

Result<VmRecord> IncomingMigrations::commitLive(IncomingPtr in, const nlohmann::json& request) {
  auto began = std::chrono::steady_clock::now();
  auto ms = [&began] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 began)
        .count();
  };
  const auto& run = request.value("run", nlohmann::json(!in->paused));
  if (!run.is_boolean()) {
    discard(*in);
    return makeError(Errc::invalid_argument, "run must be a boolean", "run");
  }
  // The source saw its stream complete; this QEMU may still be loading the last of it (with
  // shared storage the commit follows at once: no mirrors to finish in between).
  if (auto s = in->process->waitIncoming(kLoadTimeout); !s) {
    discard(*in);
    return makeError(s.error().code, "the VM's state did not load here: " + s.error().message);
  }
  if (in->spec.storage.empty())
    if (auto s = in->process->stopDiskExports(); !s) {
      discard(*in);
      return s.error();
    }
  std::string reason = in->from.empty() ? "migrated live" : "migrated live from " + in->from;
  auto loadedMs = ms();
  auto rec = vms_.adoptIncoming(in->spec, in->diskFolder, in->accel, std::move(in->process),
                                run.get<bool>(), reason);
  (void)removeAll(in->dir);
  if (!rec) {
    events_.publish("vm.migration.aborted", "vm/" + in->spec.name,
                    {{"from", in->from}, {"reason", rec.error().message}});
    return rec.error();
  }
  spdlog::debug("VM {}: taken over in {} ms (state loaded and exports stopped at {})",
                in->spec.name, ms(), loadedMs);
  events_.publish("vm.migrated.in", "vm/" + in->spec.name,
                  {{"from", in->from}, {"state", vmStateName(rec->runtime.state)}, {"live", true}});
  return rec;
}

Result<nlohmann::json> IncomingMigrations::recoverLive(const std::string& id) {
  auto found = find(id);  // counts as the source's heartbeat
  if (!found) return found.error();
  IncomingPtr in = *found;
  std::lock_guard w(in->writing);
  if (!in->live) return makeError(Errc::conflict, "not a live migration");
  if (!in->process) return makeError(Errc::conflict, "the arriving VM's QEMU is gone");
  if (auto s = in->process->queryStatus(); !s)
    return makeError(Errc::conflict, "the arriving VM's QEMU is gone: " + s.error().message);
  auto port = freePorts(in->listenHost, 1);
  if (!port) return port.error();
  if (auto s = in->process->recoverPostCopy(in->listenHost, *port); !s) return s.error();
  in->migrationPort = *port;
  spdlog::warn("arriving VM {}: its post-copy stream broke; listening again on port {}",
               in->spec.name, *port);
  events_.publish("vm.migration.recovering", "vm/" + in->spec.name,
                  {{"from", in->from}, {"id", in->id}});
  return nlohmann::json{{"id", in->id}, {"migration_port", *port}};
}

Result<nlohmann::json> IncomingMigrations::status(const std::string& id) {
  auto found = find(id);  // counts as the source's heartbeat
  if (!found) return found.error();
  IncomingPtr in = *found;
  std::lock_guard w(in->writing);
  nlohmann::json out = {{"id", in->id}, {"vm", in->spec.name}, {"live", in->live}};
  if (in->live) {
    auto s = in->process ? in->process->queryStatus() : Result<std::string>("gone");
    out["qemu"] = s ? *s : "gone: " + s.error().message;
  }
  return out;
}

}  // namespace paddock
