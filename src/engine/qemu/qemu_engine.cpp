#include "engine/qemu/qemu_engine.h"

#include "common/subprocess.h"
#include "engine/qemu/qemu_argv.h"
#include "engine/qemu/qemu_process.h"
#include "engine/qemu/storage_daemon.h"

namespace paddock {

Result<VmProcessPtr> QemuEngine::start(const LaunchSpec& spec, VmProcessCallbacks callbacks) {
  auto p = QemuProcess::launch(spec, std::move(callbacks));
  if (!p) return p.error();
  return VmProcessPtr(std::move(*p));
}

Result<VmProcessPtr> QemuEngine::adopt(const std::string& name, const std::string& runDir,
                                       VmProcessCallbacks callbacks) {
  auto p = QemuProcess::attach(name, runDir, std::move(callbacks));
  if (!p) return p.error();
  return VmProcessPtr(std::move(*p));
}

Result<std::unique_ptr<DiskSession>> QemuEngine::openDisks(const std::string& name,
                                                           const std::vector<LaunchDisk>& disks,
                                                           const std::string& runDir) {
  auto d = StorageDaemon::open(name, disks, runDir);
  if (!d) return d.error();
  return std::unique_ptr<DiskSession>(std::move(*d));
}

std::string QemuEngine::version() {
  auto out = runCommand({kQemuBinary, "--version"}, std::chrono::seconds(10));
  if (!out || out->exitCode != 0) return "unknown";
  return out->out.substr(0, out->out.find('\n'));
}

}  // namespace paddock
