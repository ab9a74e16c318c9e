// The check that two hosts see the same shared storage: the source writes a file with a random
// token into its directory of the storage and names it in its request; the target reads it from
// its own directory of that name (IncomingMigrations::checkSharedStorage).
#pragma once

#include <unistd.h>

#include <optional>
#include <random>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/result.h"

namespace paddock {

// A file only this migration writes on the VM's shared storage, so the target can show it sees
// the same files; removed once the target has answered.
class CheckFile {
 public:
  static Result<CheckFile> write(const std::string& dir) {
    std::random_device rd;
    CheckFile f;
    f.name_ = fmt::format(".paddock-check-{:08x}{:08x}", rd(), rd());
    f.token_ = fmt::format("{:08x}{:08x}{:08x}{:08x}", rd(), rd(), rd(), rd());
    f.path_ = dir + "/" + f.name_;
    PADDOCK_TRY(writeFileAtomic(f.path_, f.token_, 0600));
    return f;
  }
  // For a VM on shared storage `storage` (its directory `dir`, or why there is none): the check
  // file to name in the request; nothing for a VM on local storage.
  static Result<std::optional<CheckFile>> forStorage(const std::string& storage,
                                                     const Result<std::string>& dir) {
    if (storage.empty()) return std::optional<CheckFile>();
    if (!dir) return dir.error();
    auto written = write(*dir);
    if (!written) return written.error();
    return std::optional<CheckFile>(std::move(*written));
  }
  CheckFile() = default;
  CheckFile(CheckFile&& o) noexcept { *this = std::move(o); }
  CheckFile& operator=(CheckFile&& o) noexcept {
    std::swap(name_, o.name_);
    std::swap(token_, o.token_);
    std::swap(path_, o.path_);
    return *this;
  }
  ~CheckFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  nlohmann::json request(const std::string& storage) const {
    return {{"name", storage}, {"check_file", name_}, {"check_token", token_}};
  }

 private:
  std::string name_, token_, path_;
};

}  // namespace paddock
