#include "images/qemu_img.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/subprocess.h"

namespace paddock {

namespace {

Status runQemuImg(const std::vector<std::string>& argv) {
  auto out = runCommand(argv, std::chrono::minutes(5));
  if (!out) return out.error();
  if (out->exitCode != 0) {
    std::string err = out->err.substr(0, out->err.find('\n'));
    return makeError(Errc::internal, fmt::format("qemu-img {} failed: {}", argv[1], err));
  }
  return {};
}

}  // namespace

Status createQcow2(const std::string& path, uint64_t sizeMib) {
  return runQemuImg({"qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", path,
                     fmt::format("{}M", sizeMib)});
}

Status growQcow2(const std::string& path, uint64_t sizeMib) {
  auto current = qcow2VirtualSizeMib(path);
  if (!current) return current.error();
  if (sizeMib < *current)
    return makeError(Errc::invalid_argument,
                     fmt::format("disk {} is {}M; shrinking it to {}M would destroy data", path,
                                 *current, sizeMib));
  if (sizeMib == *current) return {};
  return runQemuImg({"qemu-img", "resize", "-q", "-f", "qcow2", path, fmt::format("{}M", sizeMib)});
}

Result<uint64_t> qcow2VirtualSizeMib(const std::string& path) {
  auto out =
      runCommand({"qemu-img", "info", "--output=json", "-U", path}, std::chrono::seconds(30));
  if (!out) return out.error();
  if (out->exitCode != 0)
    return makeError(Errc::internal, fmt::format("qemu-img info {} failed: {}", path, out->err));
  auto j = nlohmann::json::parse(out->out, nullptr, false);
  if (!j.is_object() || !j.contains("virtual-size"))
    return makeError(Errc::internal, "qemu-img info printed no virtual-size");
  return j["virtual-size"].get<uint64_t>() / (1024 * 1024);
}

}  // namespace paddock
