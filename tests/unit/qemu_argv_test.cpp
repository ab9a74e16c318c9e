// The QEMU command line is part of our contract with QEMU: compare it whole, per scenario.
#include <algorithm>

#include <gtest/gtest.h>

#include "engine/qemu/nic_device.h"
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
  s.disks = {{"root", "/state/disks/web1/root.qcow2", "qcow2", false, ""}};
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
      "524280K",  // 8 KiB short of 512M under TCG: see qemuMemorySize
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
      "-qmp",
      "unix:/state/run/web1/stats.sock,server=on,wait=off",
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
      "-device",
      "pcie-root-port,id=hp0,chassis=1,io-reserve=0",
      "-device",
      "pcie-root-port,id=hp1,chassis=2,io-reserve=0",
      "-device",
      "pcie-root-port,id=hp2,chassis=3,io-reserve=0",
      "-device",
      "pcie-root-port,id=hp3,chassis=4,io-reserve=0",
      "-device",
      "pcie-root-port,id=hp4,chassis=5,io-reserve=0",
      "-device",
      "pcie-root-port,id=hp5,chassis=6,io-reserve=0",
      "-device",
      "pcie-root-port,id=hp6,chassis=7,io-reserve=0",
      "-device",
      "pcie-root-port,id=hp7,chassis=8,io-reserve=0",
  };
  EXPECT_EQ(buildQemuArgv(tinySpec()), expected);
}

TEST(QemuArgv, LockedMemoryIsPreallocatedAndUnsharedMemoryIsNotMerged) {
  auto spec = tinySpec();
  spec.memoryLock = true;
  spec.memoryMerge = false;
  auto argv = buildQemuArgv(spec);
  auto machine = std::find(argv.begin(), argv.end(), "-machine");
  ASSERT_NE(machine, argv.end());
  EXPECT_EQ(*(machine + 1), "q35,mem-merge=off");
  auto lock = std::find(argv.begin(), argv.end(), "-overcommit");
  ASSERT_NE(lock, argv.end());
  EXPECT_EQ(*(lock + 1), "mem-lock=on");
  EXPECT_EQ(*(lock + 2), "-mem-prealloc");
  // The defaults add neither.
  auto plain = buildQemuArgv(tinySpec());
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "-overcommit"), plain.end());
}

TEST(QemuArgv, BootNicsGoOnTheFirstRootPortsInOrder) {
  auto spec = tinySpec();
  spec.disks.clear();
  spec.nics = {{"02504400000a", "pd1234t02504400", "02:50:44:00:00:0a", {}},
               {"02504400000b", "pd1234t0250440b", "02:50:44:00:00:0b", {}}};
  auto argv = buildQemuArgv(spec);
  auto ports = std::find(argv.begin(), argv.end(), "pcie-root-port,id=hp0,chassis=1,io-reserve=0");
  ASSERT_NE(ports, argv.end());
  // The NICs follow the eight ports.
  std::vector<std::string> nics(ports + 15, argv.end());
  std::vector<std::string> expected = {
      "-netdev",
      "tap,id=net-02504400000a,ifname=pd1234t02504400,script=no,downscript=no",
      "-device",
      "virtio-net-pci,netdev=net-02504400000a,mac=02:50:44:00:00:0a,id=nic-02504400000a,romfile=,"
      "bus=hp0",
      "-netdev",
      "tap,id=net-02504400000b,ifname=pd1234t0250440b,script=no,downscript=no",
      "-device",
      "virtio-net-pci,netdev=net-02504400000b,mac=02:50:44:00:00:0b,id=nic-02504400000b,romfile=,"
      "bus=hp1",
  };
  EXPECT_EQ(nics, expected);
}

TEST(NicDevice, HotplugArgumentsAreTheCommandLineProperties) {
  auto nic = nicDevice({"0250440a1b2c", "pdabcdt0a1b2c3d", "02:50:44:0a:1b:2c", {}}, "hp3");
  EXPECT_EQ(nic.netdev.toQmp(), (nlohmann::json{{"type", "tap"},
                                                {"id", "net-0250440a1b2c"},
                                                {"ifname", "pdabcdt0a1b2c3d"},
                                                {"script", "no"},
                                                {"downscript", "no"}}));
  EXPECT_EQ(nic.device.toQmp(), (nlohmann::json{{"driver", "virtio-net-pci"},
                                                {"netdev", "net-0250440a1b2c"},
                                                {"mac", "02:50:44:0a:1b:2c"},
                                                {"id", "nic-0250440a1b2c"},
                                                {"romfile", ""},
                                                {"bus", "hp3"}}));
  EXPECT_EQ(nic.device.toOption(),
            "virtio-net-pci,netdev=net-0250440a1b2c,mac=02:50:44:0a:1b:2c,id=nic-0250440a1b2c,"
            "romfile=,bus=hp3");
  // Without a bus QEMU picks one (pcie.0), and the property is left out entirely.
  auto noBus = nicDevice({"1", "tap1", "02:50:44:00:00:01", {}}, "");
  EXPECT_EQ(noBus.device.get("bus"), "");
  EXPECT_FALSE(noBus.device.toQmp().contains("bus"));
}

TEST(NicDevice, WithoutATapTheBackendIsUserModeAndForwardsBecomeLists) {
  LaunchNic user{"0250440a1b2c",
                 "",
                 "02:50:44:0a:1b:2c",
                 {{"net", "10.0.2.0/24"},
                  {"dhcpstart", "10.0.2.15"},
                  {"hostfwd", "tcp::8080-:80"},
                  {"hostfwd", "udp::5353-:53"}}};
  auto nic = nicDevice(user, "hp0");
  EXPECT_EQ(nic.netdev.toOption(),
            "user,id=net-0250440a1b2c,net=10.0.2.0/24,dhcpstart=10.0.2.15,hostfwd=tcp::8080-:80,"
            "hostfwd=udp::5353-:53");
  EXPECT_EQ(
      nic.netdev.toQmp(),
      (nlohmann::json{{"type", "user"},
                      {"id", "net-0250440a1b2c"},
                      {"net", "10.0.2.0/24"},
                      {"dhcpstart", "10.0.2.15"},
                      {"hostfwd", {{{"str", "tcp::8080-:80"}}, {{"str", "udp::5353-:53"}}}}}));
  EXPECT_EQ(nic.device.get("netdev"), "net-0250440a1b2c");
}

TEST(NicDevice, CommasInValuesAreDoubledOnlyOnTheCommandLine) {
  QemuProperties p{{{"type", "tap"}, {"ifname", "a,b"}}};
  EXPECT_EQ(p.toOption(), "tap,ifname=a,,b");
  EXPECT_EQ(p.toQmp()["ifname"], "a,b");
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
  auto memory = std::find(argv.begin(), argv.end(), "-m");
  ASSERT_NE(memory, argv.end());
  EXPECT_EQ(*(memory + 1), "512M") << "KVM's dirty log needs no shortfall";
}

TEST(QemuArgv, UnderTcgTheRamIsNotAMultipleOf256KibSoMigrationTracksEveryWrite) {
  for (std::uint64_t mib : {16u, 128u, 256u, 4096u}) {
    std::string m = qemuMemorySize(mib, false);
    ASSERT_EQ(m.back(), 'K') << m;
    std::uint64_t kib = std::stoull(m.substr(0, m.size() - 1));
    EXPECT_EQ(kib, mib * 1024 - 8) << "as little short as QEMU's 8 KiB rounding allows";
    EXPECT_NE(kib % 256, 0u) << m;
    EXPECT_EQ(kib % 8, 0u) << m;
  }
  EXPECT_EQ(qemuMemorySize(128, true), "128M");
}

TEST(QemuArgv, ALiveMigrationTargetWaitsPausedForTheStream) {
  auto spec = tinySpec();
  spec.listenHost = "127.0.0.1";
  spec.listenPort = 49152;
  auto argv = buildQemuArgv(spec);
  auto at = std::find(argv.begin(), argv.end(), "-incoming");
  ASSERT_NE(at, argv.end());
  EXPECT_EQ(*(at + 1), "tcp:127.0.0.1:49152");
  EXPECT_NE(std::find(argv.begin(), argv.end(), "-S"), argv.end()) << "it must not run by itself";
  spec.listenHost = "fd00::2";
  argv = buildQemuArgv(spec);
  at = std::find(argv.begin(), argv.end(), "-incoming");
  EXPECT_EQ(*(at + 1), "tcp:[fd00::2]:49152");
  auto plain = buildQemuArgv(tinySpec());
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "-S"), plain.end());
  EXPECT_EQ(std::find(plain.begin(), plain.end(), "-incoming"), plain.end());
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

TEST(QemuArgv, SeedDiskIsReadOnlyWithASerialAfterTheVmsDisks) {
  auto s = tinySpec();
  s.disks.push_back({"cidata", "/state/run/web1/cidata.iso", "raw", true, "cidata"});
  auto argv = buildQemuArgv(s);
  auto at = [&](const std::string& v) { return std::find(argv.begin(), argv.end(), v); };
  auto root = at("virtio-blk-pci,drive=drive-root,id=disk-root");
  auto seed = at("virtio-blk-pci,drive=drive-cidata,id=disk-cidata,serial=cidata");
  ASSERT_NE(root, argv.end());
  ASSERT_NE(seed, argv.end());
  EXPECT_LT(root, seed) << "the seed must not take vda";
  EXPECT_NE(
      at("driver=file,filename=/state/run/web1/cidata.iso,node-name=file-cidata,read-only=on"),
      argv.end());
  EXPECT_NE(at("driver=raw,file=file-cidata,node-name=drive-cidata,read-only=on"), argv.end());
}

}  // namespace
}  // namespace paddock
