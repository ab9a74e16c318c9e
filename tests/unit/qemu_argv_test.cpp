// The QEMU command line is part of our contract with QEMU: compare it whole, per scenario.
#include <gtest/gtest.h>

#include "engine/qemu/qemu_argv.h"

namespace paddock {
namespace {

LaunchSpec tinySpec() {
  LaunchSpec s;
  s.name = "web1";
  s.vcpus = 2;
  s.memoryMib = 512;
  s.accel = "tcg";
  s.kernel = "/img/vmlinuz";
  s.initrd = "/img/initrd.img";
  s.append = "console=ttyS0 paddock.hostname=web1 quiet";
  s.disks = {{"root", "/state/disks/web1/root.qcow2", "qcow2"}};
  s.runDir = "/state/run/web1";
  return s;
}

TEST(QemuArgv, TcgGuestWithOneDiskMatchesTheExpectedCommandLine) {
  std::vector<std::string> expected = {
      "qemu-system-x86_64",
      "-name",
      "guest=web1,debug-threads=on",
      "-machine",
      "q35",
      "-accel",
      "tcg",
      "-cpu",
      "max",
      "-smp",
      "2",
      "-m",
      "512M",
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-msg",
      "timestamp=on",
      "-pidfile",
      "/state/run/web1/qemu.pid",
      "-qmp",
      "unix:/state/run/web1/qmp.sock,server=on,wait=off",
      "-chardev",
      "socket,id=console0,path=/state/run/web1/console.sock,server=on,wait=off",
      "-serial",
      "chardev:console0",
      "-device",
      "virtio-balloon-pci,id=balloon0",
      "-device",
      "virtio-serial-pci,id=vserial0",
      "-kernel",
      "/img/vmlinuz",
      "-initrd",
      "/img/initrd.img",
      "-append",
      "console=ttyS0 paddock.hostname=web1 quiet",
      "-blockdev",
      "driver=file,filename=/state/disks/web1/root.qcow2,node-name=file-root,discard=unmap",
      "-blockdev",
      "driver=qcow2,file=file-root,node-name=drive-root",
      "-device",
      "virtio-blk-pci,drive=drive-root,id=disk-root",
  };
  EXPECT_EQ(buildQemuArgv(tinySpec()), expected);
}

TEST(QemuArgv, KvmPassesTheHostCpuThrough) {
  auto spec = tinySpec();
  spec.accel = "kvm";
  auto argv = buildQemuArgv(spec);
  auto at = std::find(argv.begin(), argv.end(), "-accel");
  ASSERT_NE(at, argv.end());
  EXPECT_EQ(*(at + 1), "kvm");
  auto cpu = std::find(argv.begin(), argv.end(), "-cpu");
  EXPECT_EQ(*(cpu + 1), "host");
}

TEST(QemuArgv, CommasInPathsAreEscapedForQemuOptions) {
  auto spec = tinySpec();
  spec.runDir = "/state,x/run/web1";
  spec.disks[0].path = "/d,1/root.qcow2";
  auto argv = buildQemuArgv(spec);
  EXPECT_NE(
      std::find(argv.begin(), argv.end(), "unix:/state,,x/run/web1/qmp.sock,server=on,wait=off"),
      argv.end());
  EXPECT_NE(std::find(argv.begin(), argv.end(),
                      "driver=file,filename=/d,,1/root.qcow2,node-name=file-root,discard=unmap"),
            argv.end());
}

TEST(QemuArgv, NoDisksNoBlockdevs) {
  auto spec = tinySpec();
  spec.disks.clear();
  auto argv = buildQemuArgv(spec);
  EXPECT_EQ(std::find(argv.begin(), argv.end(), "-blockdev"), argv.end());
}

}  // namespace
}  // namespace paddock
