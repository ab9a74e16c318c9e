// Decides between KVM and TCG by booting the tiny guest under KVM: /dev/kvm existing is not
// proof (a nested paravirtual KVM can crash stock Linux guests), a guest reaching ready is.
#pragma once

#include <chrono>
#include <string>

#include "engine/engine.h"

namespace paddock {

struct ProbeInput {
  std::string kernel;
  std::string initrd;
  std::string workDir;  // scratch space for the probe's log
  std::chrono::milliseconds timeout{20'000};
};

AccelChoice probeAccelerator(const ProbeInput& in);

}  // namespace paddock
