#include "engine/qemu/qemu_argv.h"

#include <fmt/format.h>

#include "engine/qemu/nic_device.h"

namespace paddock {

std::string qemuOptEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == ',') out += c;
  }
  return out;
}

std::string uriHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string qemuMemorySize(std::uint64_t memoryMib, bool kvm) {
  // QEMU rounds -m to 8 KiB, so 8 KiB is the least that leaves the 256 KiB multiple.
  constexpr std::uint64_t kTcgShortfallKib = 8;
  return kvm ? fmt::format("{}M", memoryMib)
             : fmt::format("{}K", memoryMib * 1024 - kTcgShortfallKib);
}

std::vector<std::string> buildQemuArgv(const LaunchSpec& spec) {
  RunPaths run{spec.runDir};
  bool kvm = spec.accel == "kvm";
  std::vector<std::string> argv = {
      kQemuBinary,
      "-name",
      fmt::format("guest={},debug-threads=on", spec.name),
      "-machine",
      spec.memoryMerge ? "q35" : "q35,mem-merge=off",
      "-accel",
      kvm ? "kvm" : "tcg",
      // KVM passes the host CPU through; TCG's "max" enables every feature it can emulate.
      "-cpu",
      kvm ? "host" : "max",
      "-smp",
      std::to_string(spec.vcpus),
      "-m",
      qemuMemorySize(spec.memoryMib, kvm),
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-msg",
      "timestamp=on",
      "-pidfile",
      run.pidfile(),
      "-qmp",
      fmt::format("unix:{},server=on,wait=off", qemuOptEscape(run.qmp())),
      "-qmp",
      fmt::format("unix:{},server=on,wait=off", qemuOptEscape(run.statsQmp())),
      "-chardev",
      fmt::format("socket,id=console0,path={},server=on,wait=off", qemuOptEscape(run.console())),
      "-serial",
      "chardev:console0",
      "-device",
      "virtio-balloon-pci,id=balloon0",
      "-device",
      "virtio-serial-pci,id=vserial0",
  };
  // Locked memory is allocated up front, so a VM that cannot get it fails at start, not later.
  if (spec.memoryLock) argv.insert(argv.end(), {"-overcommit", "mem-lock=on", "-mem-prealloc"});
  if (!spec.kernel.empty()) {
    argv.insert(argv.end(), {"-kernel", spec.kernel});
    if (!spec.initrd.empty()) argv.insert(argv.end(), {"-initrd", spec.initrd});
    if (!spec.append.empty()) argv.insert(argv.end(), {"-append", spec.append});
  }
  for (const auto& d : spec.disks) {
    std::string ro = d.readOnly ? ",read-only=on" : "";
    std::string serial = d.serial.empty() ? "" : ",serial=" + qemuOptEscape(d.serial);
    argv.insert(
        argv.end(),
        {"-blockdev",
         fmt::format("driver=file,filename={},node-name=file-{}{}", qemuOptEscape(d.path), d.id,
                     d.readOnly ? ro : ",discard=unmap"),
         "-blockdev",
         fmt::format("driver={},file=file-{},node-name=drive-{}{}", d.format, d.id, d.id, ro),
         "-device", fmt::format("virtio-blk-pci,drive=drive-{},id=disk-{}{}", d.id, d.id, serial)});
  }
  if (!spec.loadvm.empty()) argv.insert(argv.end(), {"-loadvm", spec.loadvm});
  // The path comes from the state dir; saveState() refuses quotes in it.
  if (!spec.incoming.empty())
    argv.insert(argv.end(), {"-incoming", "exec:cat '" + spec.incoming + "'"});
  else if (!spec.listenHost.empty())
    argv.insert(argv.end(), {"-S", "-incoming",
                             fmt::format("tcp:{}:{}", uriHost(spec.listenHost), spec.listenPort)});
  // Every NIC sits on a root port of its own, boot NICs included, so that any of them can be
  // unplugged later (pcie.0 does not support hot-plug).
  for (int i = 0; i < kNicPorts; ++i)
    argv.insert(argv.end(), {"-device", nicPortDevice(i).toOption()});
  for (size_t i = 0; i < spec.nics.size(); ++i) {
    std::string port = i < static_cast<size_t>(kNicPorts) ? nicPortId(static_cast<int>(i)) : "";
    auto nic = nicDevice(spec.nics[i], port);
    argv.insert(argv.end(), {"-netdev", nic.netdev.toOption(), "-device", nic.device.toOption()});
  }
  return argv;
}

}  // namespace paddock
