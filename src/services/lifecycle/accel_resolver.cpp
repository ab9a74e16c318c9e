#include "services/lifecycle/accel_resolver.h"

#include <sys/utsname.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/subprocess.h"
#include "engine/qemu/accel_probe.h"

namespace paddock {

namespace {

// The probe's verdict holds as long as the host kernel, QEMU and the guest kernel are the same.
std::string probeKey(const ImageInfo& tiny) {
  utsname u{};
  uname(&u);
  auto qemu = runCommand({"qemu-system-x86_64", "--version"}, std::chrono::seconds(10));
  std::string qv = qemu && qemu->exitCode == 0 ? qemu->out.substr(0, qemu->out.find('\n')) : "";
  return fmt::format("{}|{}|{}", u.release, qv, tiny.kernelVersion);
}

}  // namespace

AccelChoice AccelResolver::hostChoice() {
  std::lock_guard lock(mutex_);
  if (choice_) return *choice_;
  if (forced_ && *forced_ != Accel::automatic) {
    choice_ = AccelChoice{accelName(*forced_), "set by paddockd --accel"};
    return *choice_;
  }
  auto tiny = images_.info("tiny");
  ProbeInput in;
  in.workDir = cacheDir_;
  if (tiny && tiny->built) {
    in.kernel = tiny->kernel;
    in.initrd = tiny->initrd;
  }
  std::string cacheFile = cacheDir_ + "/accel-probe.json";
  std::string key = in.kernel.empty() ? "" : probeKey(*tiny);
  if (!key.empty()) {
    if (auto cached = readFile(cacheFile)) {
      auto j = nlohmann::json::parse(*cached, nullptr, false);
      if (j.is_object() && j.value("key", "") == key) {
        choice_ = AccelChoice{j.value("accel", "tcg"), j.value("reason", "") + " (cached probe)"};
        return *choice_;
      }
    }
  }
  AccelChoice c = probeAccelerator(in);
  spdlog::info("accelerator: {} ({})", c.accel, c.reason);
  if (!key.empty()) {
    nlohmann::json j = {{"key", key}, {"accel", c.accel}, {"reason", c.reason}};
    (void)makeDirs(cacheDir_);
    (void)writeFileAtomic(cacheFile, j.dump());
    choice_ = c;  // an unprobed answer is not cached: the image may be built later
  }
  return c;
}

Result<std::string> AccelResolver::resolve(Accel requested) {
  if (requested == Accel::tcg) return std::string("tcg");
  AccelChoice host = hostChoice();
  if (requested == Accel::kvm && host.accel != "kvm")
    return makeError(Errc::unprocessable, "the VM asks for KVM, but " + host.reason, "accel");
  return host.accel;
}

}  // namespace paddock
