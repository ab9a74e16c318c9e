#include "images/qemu_img.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
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

Status createOverlay(const std::string& path, const std::string& backing) {
  return runQemuImg({"qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", "-b",
                     backing, "-F", "qcow2", path});
}

namespace {

Result<nlohmann::json> qcow2Info(const std::string& path) {
  auto out = runCommand({"qemu-img", "info", "--output=json", "-f", "qcow2", path},
                        std::chrono::seconds(30));
  if (!out) return out.error();
  if (out->exitCode != 0)
    return makeError(Errc::internal, fmt::format("qemu-img info {} failed: {}", path,
                                                 out->err.substr(0, out->err.find('\n'))));
  auto j = nlohmann::json::parse(out->out, nullptr, false);
  if (!j.is_object()) return makeError(Errc::internal, "qemu-img info printed no JSON");
  return j;
}

}  // namespace

Result<std::vector<std::string>> qcow2SnapshotTags(const std::string& path) {
  PADDOCK_TRY_ASSIGN(auto j, qcow2Info(path));
  std::vector<std::string> tags;
  for (const auto& s : j.value("snapshots", nlohmann::json::array()))
    if (s.contains("name") && s["name"].is_string()) tags.push_back(s["name"].get<std::string>());
  return tags;
}

Result<std::vector<std::string>> qcow2Bitmaps(const std::string& path) {
  PADDOCK_TRY_ASSIGN(auto j, qcow2Info(path));
  std::vector<std::string> names;
  auto data = j.value("/format-specific/data"_json_pointer, nlohmann::json::object());
  for (const auto& b : data.value("bitmaps", nlohmann::json::array()))
    if (b.contains("name") && b["name"].is_string()) names.push_back(b["name"].get<std::string>());
  return names;
}

Status qcow2RemoveBitmap(const std::string& path, const std::string& name) {
  return runQemuImg({"qemu-img", "bitmap", "--remove", "-f", "qcow2", path, name});
}

Status qcow2Snapshot(const std::string& path, SnapshotOp op, const std::string& tag) {
  const char* flag = op == SnapshotOp::create ? "-c" : op == SnapshotOp::apply ? "-a" : "-d";
  return runQemuImg({"qemu-img", "snapshot", flag, tag, path});
}

Status copyQcow2(const std::string& src, const std::string& dst, const std::string& logPath,
                 const std::function<void(double)>& progress,
                 const std::function<bool()>& cancelled) {
  // -p prints "    (12.34/100%)\r" as it goes.
  std::string seen;
  bool wasCancelled = false;
  auto status = runFollowing(
      {"qemu-img", "convert", "-p", "-f", "qcow2", "-O", "qcow2", "-o", "lazy_refcounts=on", src,
       dst},
      logPath,
      [&](std::string_view text) {
        seen += text;
        size_t end = seen.rfind("/100%)");
        size_t start = end == std::string::npos ? end : seen.rfind('(', end);
        if (start != std::string::npos && progress)
          progress(std::strtod(seen.c_str() + start + 1, nullptr));
        if (seen.size() > 4096) seen.erase(0, seen.size() - 64);
      },
      cancelled, &wasCancelled);
  if (!status) return status.error();
  if (wasCancelled || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    unlink(dst.c_str());
    if (wasCancelled) return makeError(Errc::conflict, "cancelled");
    auto log = readFile(logPath);
    std::string last = log ? *log : "";
    while (!last.empty() && (last.back() == '\n' || last.back() == '\r')) last.pop_back();
    last = last.substr(
        last.find_last_of("\r\n") == std::string::npos ? 0 : last.find_last_of("\r\n") + 1);
    return makeError(Errc::internal, fmt::format("qemu-img convert {} failed ({}): {}", src,
                                                 describeWaitStatus(*status), last));
  }
  return {};
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
