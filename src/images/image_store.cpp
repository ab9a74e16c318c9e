#include "images/image_store.h"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/clock.h"
#include "common/files.h"
#include "common/names.h"
#include "common/subprocess.h"

namespace paddock {

nlohmann::json toJson(const ImageInfo& i) {
  return {{"name", i.name},
          {"built", i.built},
          {"up_to_date", i.upToDate},
          {"kernel", i.kernel},
          {"initrd", i.initrd},
          {"root_disk", i.rootDisk},
          {"kernel_version", i.kernelVersion},
          {"recipe_hash", i.recipeHash},
          {"built_at", formatTimeMs(i.builtAtMs)}};
}

ImageStore::ImageStore(std::string recipeRoot, std::string imageDir)
    : recipeRoot_(std::move(recipeRoot)), imageDir_(std::move(imageDir)) {}

std::string ImageStore::recipeDir(const std::string& name) const {
  return recipeRoot_ + "/guest/" + name;
}

std::vector<std::string> ImageStore::knownImages() const {
  std::vector<std::string> out;
  DIR* d = opendir((recipeRoot_ + "/guest").c_str());
  if (!d) return out;
  while (auto* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && pathExists(recipeDir(n) + "/build.sh")) out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// The files' names, sizes and modification times: cheap to read, and they change when the recipe
// does.
std::string ImageStore::recipeSignature(const std::string& name) const {
  namespace fs = std::filesystem;
  std::vector<std::string> parts;
  std::error_code ec;
  for (const auto& f : fs::recursive_directory_iterator(recipeDir(name), ec)) {
    if (!f.is_regular_file(ec)) continue;
    auto mtime = f.last_write_time(ec).time_since_epoch().count();
    parts.push_back(fmt::format("{}:{}:{}", f.path().string(), f.file_size(ec), mtime));
  }
  std::sort(parts.begin(), parts.end());
  return fmt::format("{}", fmt::join(parts, "|"));
}

Result<std::string> ImageStore::recipeHash(const std::string& name) {
  std::string signature = recipeSignature(name);
  {
    std::lock_guard lock(hashMutex_);
    auto it = hashCache_.find(name);
    if (it != hashCache_.end() && it->second.first == signature) return it->second.second;
  }
  std::vector<std::string> argv = {
      "sh", "-c",
      "cd \"$1\" && find . -type f ! -name README.md -print0 | sort -z | "
      "xargs -0 sha256sum | sha256sum",
      "sh", recipeDir(name)};
  auto out = runCommand(argv, std::chrono::seconds(30));
  if (!out || out->exitCode != 0)
    return makeError(Errc::internal, fmt::format("cannot hash the recipe of image '{}'", name));
  std::string hash = out->out.substr(0, 64);
  std::lock_guard lock(hashMutex_);
  hashCache_[name] = {signature, hash};
  return hash;
}

Result<ImageInfo> ImageStore::info(const std::string& name) {
  if (auto s = validateName(name, "image name"); !s) return s.error();
  if (!pathExists(recipeDir(name) + "/build.sh"))
    return makeError(Errc::not_found, fmt::format("image '{}' is unknown (known: {})", name,
                                                  fmt::join(knownImages(), ", ")));
  ImageInfo i;
  i.name = name;
  std::string dir = imageDir_ + "/" + name;
  auto hash = recipeHash(name);
  if (!hash) return hash.error();
  i.recipeHash = *hash;
  auto builtHash = readFile(dir + "/recipe.sha256");
  i.built = builtHash.ok() && pathExists(dir + "/vmlinuz") && pathExists(dir + "/initrd.img");
  if (i.built) {
    i.upToDate = builtHash->substr(0, 64) == *hash;
    i.kernel = dir + "/vmlinuz";
    i.initrd = dir + "/initrd.img";
    if (pathExists(dir + "/root.qcow2")) i.rootDisk = dir + "/root.qcow2";
    if (auto kv = readFile(dir + "/kernel-version")) {
      i.kernelVersion = *kv;
      while (!i.kernelVersion.empty() && i.kernelVersion.back() == '\n') i.kernelVersion.pop_back();
    }
    if (auto at = readFile(dir + "/built-at-ms")) i.builtAtMs = std::atoll(at->c_str());
  }
  return i;
}

Result<ImageInfo> ImageStore::build(const std::string& name, bool force,
                                    const std::function<void(const std::string&)>& progress) {
  std::lock_guard lock(buildMutex_);
  auto current = info(name);
  if (!current) return current.error();
  if (current->built && current->upToDate && !force) {
    progress(fmt::format("image '{}' is up to date (recipe {})", name,
                         current->recipeHash.substr(0, 12)));
    return current;
  }
  std::string dir = imageDir_ + "/" + name;
  PADDOCK_TRY(makeDirs(dir));
  std::string log = dir + "/build.log";
  progress(fmt::format("building image '{}' (log: {})", name, log));
  // Follow the log so the operation shows each step the recipe prints.
  std::string partial;
  auto ran = runFollowing({"bash", recipeDir(name) + "/build.sh", dir}, log,
                          [&](std::string_view text) {
                            partial += text;
                            size_t pos;
                            while ((pos = partial.find('\n')) != std::string::npos) {
                              progress(partial.substr(0, pos));
                              partial.erase(0, pos + 1);
                            }
                          },
                          {});
  if (!ran) return ran.error();
  int status = *ran;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    auto text = readFile(log);
    std::string tail = text ? text->substr(text->size() > 300 ? text->size() - 300 : 0) : "";
    return makeError(Errc::internal, fmt::format("building image '{}' failed ({}): {}", name,
                                                 describeWaitStatus(status), tail));
  }
  PADDOCK_TRY(writeFileAtomic(dir + "/built-at-ms", std::to_string(nowMs())));
  PADDOCK_TRY(writeFileAtomic(dir + "/recipe.sha256", current->recipeHash + "\n"));
  return info(name);
}

}  // namespace paddock
