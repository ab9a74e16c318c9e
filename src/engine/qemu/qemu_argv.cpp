#include "engine/qemu/qemu_argv.h"

#include <fmt/format.h>

namespace {
// QEMU option values escape a comma by doubling it.
std::string optEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',') out += c;
  }
  return out;
}
}  // namespace

namespace paddock {

std::vector<std::string> buildQemuArgv(const LaunchSpec& spec) {
  RunPaths run{spec.runDir};
  bool kvm = spec.accel == "kvm";
  std::vector<std::string> argv = {
      kQemuBinary,
      "-name",
      fmt::format("guest={},debug-threads=on", spec.name),
      "-machine",
      "q35",
      "-accel",
      kvm ? "kvm" : "tcg",
      // KVM passes the host CPU through; TCG's "max" enables every feature it can emulate.
      "-cpu",
      kvm ? "host" : "max",
      "-smp",
      std::to_string(spec.vcpus),
      "-m",
      fmt::format("{}M", spec.memoryMib),
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-msg",
      "timestamp=on",
      "-pidfile",
      run.pidfile(),
      "-qmp",
      fmt::format("unix:{},server=on,wait=off", optEscape(run.qmp())),
      "-chardev",
      fmt::format("socket,id=console0,path={},server=on,wait=off", optEscape(run.console())),
      "-serial",
      "chardev:console0",
      "-device",
      "virtio-balloon-pci,id=balloon0",
      "-device",
      "virtio-serial-pci,id=vserial0",
  };
  if (!spec.kernel.empty()) {
    argv.insert(argv.end(), {"-kernel", spec.kernel});
    if (!spec.initrd.empty()) argv.insert(argv.end(), {"-initrd", spec.initrd});
    if (!spec.append.empty()) argv.insert(argv.end(), {"-append", spec.append});
  }
  for (const auto& d : spec.disks) {
    argv.insert(argv.end(),
                {"-blockdev",
                 fmt::format("driver=file,filename={},node-name=file-{},discard=unmap",
                             optEscape(d.path), d.id),
                 "-blockdev",
                 fmt::format("driver={},file=file-{},node-name=drive-{}", d.format, d.id, d.id),
                 "-device", fmt::format("virtio-blk-pci,drive=drive-{},id=disk-{}", d.id, d.id)});
  }
  for (const auto& n : spec.nics) {
    argv.insert(
        argv.end(),
        {"-netdev", fmt::format("tap,id=net-{},ifname={},script=no,downscript=no", n.id, n.tap),
         "-device",
         // No option ROM: guests boot from -kernel, and iPXE would only chatter on the console.
         fmt::format("virtio-net-pci,netdev=net-{},mac={},id=nic-{},romfile=", n.id, n.mac, n.id)});
  }
  return argv;
}

}  // namespace paddock
