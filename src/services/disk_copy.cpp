#include "services/disk_copy.h"

#include <dirent.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/files.h"
#include "images/qemu_img.h"

namespace paddock {

CopyProgress::CopyProgress(OperationContext* op, const std::vector<DiskSpec>& disks, int from,
                           int to)
    : op_(op), from_(from), to_(to) {
  for (const auto& d : disks) total_ += static_cast<double>(d.sizeMib);
}

void CopyProgress::disk(const DiskSpec& d, double percent) {
  if (!op_ || total_ <= 0) return;
  double done = (doneMib_ + static_cast<double>(d.sizeMib) * percent / 100) / total_;
  op_->progress(from_ + static_cast<int>(done * (to_ - from_)),
                fmt::format("copying disk {} ({:.0f} %)", d.name, percent));
}

Status copyDisks(const std::string& fromDir, const std::string& toDir,
                 const std::vector<DiskSpec>& disks, CopyProgress& progress) {
  for (const auto& d : disks) {
    PADDOCK_TRY(copyQcow2(
        fromDir + "/" + d.name + ".qcow2", toDir + "/" + d.name + ".qcow2",
        toDir + "/." + d.name + ".copy.log", [&](double pct) { progress.disk(d, pct); },
        [&] { return progress.cancelled(); }));
    progress.finished(d);
    unlink((toDir + "/." + d.name + ".copy.log").c_str());
  }
  return {};
}

void removePrefixed(const std::string& dir, const std::string& prefix) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> found;
  while (dirent* e = readdir(d))
    if (std::string(e->d_name).rfind(prefix, 0) == 0) found.push_back(dir + "/" + e->d_name);
  closedir(d);
  for (const auto& path : found) {
    spdlog::info("removing {}, left by an interrupted copy or backup", path);
    (void)removeAll(path);
  }
}

}  // namespace paddock
