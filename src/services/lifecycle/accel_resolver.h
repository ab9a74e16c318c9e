// Turns a VM's accel setting (auto|kvm|tcg) into the accelerator QEMU will use, probing KVM once.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "engine/engine.h"
#include "images/image_store.h"
#include "model/vm_spec.h"

namespace paddock {

class AccelResolver {
 public:
  AccelResolver(ImageStore& images, std::string cacheDir, std::optional<Accel> forced)
      : images_(images), cacheDir_(std::move(cacheDir)), forced_(forced) {}

  // The host's choice for `auto`, probing if that has not been done (may take ~20 s once).
  AccelChoice hostChoice();
  // The accelerator for one VM; unprocessable if it asks for KVM and KVM does not work.
  Result<std::string> resolve(Accel requested);

 private:
  ImageStore& images_;
  std::string cacheDir_;
  std::optional<Accel> forced_;
  std::mutex mutex_;
  std::optional<AccelChoice> choice_;
};

}  // namespace paddock
