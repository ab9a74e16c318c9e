#include "host/cgroups.h"

#include <fmt/format.h>

#include "host/cgroup_fs.h"

namespace paddock::host {

Result<std::unique_ptr<Cgroups>> makeCgroups(const std::string& rootName,
                                             const std::string& mountRoot) {
  // Hybrid hosts mount an empty v2 hierarchy at <mount>/unified beside the v1 ones; only a v2
  // hierarchy at the mount itself means the controllers live in v2.
  if (CgroupFs(mountRoot).hasFile("", "cgroup.controllers"))
    return makeCgroupV2(rootName, mountRoot);
  auto v1 = makeCgroupV1(rootName, mountRoot);
  if (v1 || v1.error().code != Errc::unavailable) return v1;
  return makeError(Errc::unavailable,
                   fmt::format("no usable cgroups: {}, and no cgroup v2 hierarchy there either "
                               "(no {}/cgroup.controllers)",
                               v1.error().message, mountRoot));
}

}  // namespace paddock::host
