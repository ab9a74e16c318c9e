#include "engine/qemu/accel_probe.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>

#include "common/files.h"
#include "common/subprocess.h"
#include "engine/console_mux.h"
#include "engine/qemu/qemu_argv.h"

namespace paddock {

AccelChoice probeAccelerator(const ProbeInput& in) {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return {"tcg", fmt::format("/dev/kvm is not usable ({})", strerror(errno))};
  close(fd);
  if (in.kernel.empty()) return {"tcg", "KVM not probed yet: the tiny image is not built"};
  if (auto s = makeDirs(in.workDir, 0700); !s) return {"tcg", s.error().message};
  std::string serial = in.workDir + "/kvm-probe.serial";
  std::string log = in.workDir + "/kvm-probe.log";
  unlink(serial.c_str());
  unlink(log.c_str());
  std::vector<std::string> argv = {kQemuBinary,
                                   "-machine",
                                   "q35",
                                   "-accel",
                                   "kvm",
                                   "-cpu",
                                   "host",
                                   "-m",
                                   "256",
                                   "-smp",
                                   "1",
                                   "-nodefaults",
                                   "-no-user-config",
                                   "-display",
                                   "none",
                                   "-no-reboot",
                                   "-serial",
                                   "file:" + serial,
                                   "-kernel",
                                   in.kernel,
                                   "-initrd",
                                   in.initrd,
                                   "-append",
                                   "console=ttyS0 paddock.hostname=kvm-probe panic=-1"};
  auto start = std::chrono::steady_clock::now();
  auto pid = spawnDetached(argv, log);
  if (!pid) return {"tcg", "KVM probe could not start QEMU: " + pid.error().message};
  int status = 0;
  bool exited = false;
  std::string verdict;
  while (std::chrono::steady_clock::now() - start < in.timeout) {
    auto out = readFile(serial);
    if (out && out->find(kReadyMarker) != std::string::npos) {
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      kill(*pid, SIGKILL);
      waitpid(*pid, &status, 0);
      return {"kvm", fmt::format("KVM probe booted the tiny guest to ready in {:.1f} s", secs)};
    }
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
      exited = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!exited) {
    kill(*pid, SIGKILL);
    waitpid(*pid, &status, 0);
  }
  auto qlog = readFile(log);
  std::string detail;
  if (qlog && !qlog->empty()) {
    auto first = qlog->substr(0, qlog->find('\n'));
    detail = ": " + first.substr(0, 160);
  }
  if (exited)
    return {"tcg", fmt::format("KVM probe failed: the guest did not reach ready under KVM "
                               "(QEMU {}){}",
                               describeWaitStatus(status), detail)};
  return {"tcg", fmt::format("KVM probe failed: no readiness line within {} s under KVM{}",
                             in.timeout.count() / 1000, detail)};
}

}  // namespace paddock
