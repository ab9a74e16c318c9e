// Everything the engine needs to start one VM; the lifecycle service fills it from the VmSpec.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace paddock {

struct LaunchDisk {
  std::string id;  // device id, unique within the VM
  std::string path;
  std::string format = "qcow2";
  bool readOnly = false;
  std::string serial;  // shown to the guest (/sys/block/vdX/serial); empty: none
};

struct LaunchNic {
  std::string id;   // device id suffix, unique within the VM
  std::string tap;  // host TAP device, created before QEMU starts; empty: user-mode backend
  std::string mac;
  // With no TAP: properties of QEMU's user-mode backend (net, dhcpstart, domainname, hostfwd, ...)
  // in order; a name may repeat (hostfwd).
  std::vector<std::pair<std::string, std::string>> user;
};

struct LaunchSpec {
  std::string name;
  int vcpus = 1;
  uint64_t memoryMib = 256;
  bool memoryLock = false;    // preallocate guest memory and lock it in host RAM
  bool memoryMerge = true;    // let KSM merge guest pages
  std::string accel = "tcg";  // resolved: "kvm" or "tcg"
  std::string kernel;
  std::string initrd;
  std::string append;  // full kernel command line
  std::vector<LaunchDisk> disks;
  std::vector<LaunchNic> nics;
  std::string runDir;    // qmp.sock, console.sock, qemu.pid, qemu.log live here
  std::string loadvm;    // start from this internal memory snapshot of the disks; empty: boot
  std::string incoming;  // start from this saved state file (vm suspend); empty: boot
  // Live migration's target: wait paused for the migration stream on listenHost:listenPort
  // (the guest continues only when told to, after the disks are in sync).
  std::string listenHost;
  int listenPort = 0;
};

// Files of one VM's run directory.
struct RunPaths {
  std::string dir;
  std::string qmp() const { return dir + "/qmp.sock"; }
  // A second monitor that only the collector reads (qmp_stats_monitor.h).
  std::string statsQmp() const { return dir + "/stats.sock"; }
  std::string console() const { return dir + "/console.sock"; }
  std::string consoleLog() const { return dir + "/console.log"; }
  std::string pidfile() const { return dir + "/qemu.pid"; }
  std::string qemuLog() const { return dir + "/qemu.log"; }
};

}  // namespace paddock
