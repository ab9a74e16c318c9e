// Guest images built by the project from Debian packages, cached by recipe hash.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace paddock {

struct ImageInfo {
  std::string name;
  bool built = false;
  bool upToDate = false;  // built from the current recipe
  std::string kernel;     // paths, when built
  std::string initrd;
  std::string rootDisk;  // a qcow2 root filesystem the VM's first disk starts as; "": none
  std::string kernelVersion;
  std::string recipeHash;
  int64_t builtAtMs = 0;
};

nlohmann::json toJson(const ImageInfo& info);

class ImageStore {
 public:
  // `recipeRoot` holds guest/<name>/build.sh; `imageDir` holds built images, one folder each.
  ImageStore(std::string recipeRoot, std::string imageDir);

  std::vector<std::string> knownImages() const;
  Result<ImageInfo> info(const std::string& name);
  // Builds unless the cached build matches the recipe (or `force`). `progress` gets each line the
  // recipe prints. Serialised: one build at a time per store.
  Result<ImageInfo> build(const std::string& name, bool force,
                          const std::function<void(const std::string&)>& progress);

 private:
  Result<std::string> recipeHash(const std::string& name);
  std::string recipeSignature(const std::string& name) const;
  std::string recipeDir(const std::string& name) const;

  std::string recipeRoot_;
  std::string imageDir_;
  std::mutex buildMutex_;
  std::mutex hashMutex_;
  std::map<std::string, std::pair<std::string, std::string>>
      hashCache_;  // name → (signature, hash)
};

}  // namespace paddock
