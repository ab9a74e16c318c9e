// Disk files through qemu-img.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace paddock {

Status createQcow2(const std::string& path, uint64_t sizeMib);
// Grows a qcow2 file; shrinking is refused (it would destroy guest data).
Status growQcow2(const std::string& path, uint64_t sizeMib);
Result<uint64_t> qcow2VirtualSizeMib(const std::string& path);
// A new qcow2 at `path` whose unwritten blocks read from `backing` (a qcow2; relative paths are
// relative to path's folder): a linked clone's disk. As fast for 20G as for 1G.
Status createOverlay(const std::string& path, const std::string& backing);
// Copies `src` with its whole backing chain, flattened, into a new qcow2 `dst` (sparse: only
// allocated blocks). `progress` gets the percentage copied; once `cancelled` says so the copy is
// killed, `dst` removed and a conflict ("cancelled") returned. qemu-img's output goes to logPath.
Status copyQcow2(const std::string& src, const std::string& dst, const std::string& logPath,
                 const std::function<void(double)>& progress,
                 const std::function<bool()>& cancelled);

// Names of the persistent dirty bitmaps stored in a qcow2 file no QEMU has open.
Result<std::vector<std::string>> qcow2Bitmaps(const std::string& path);
Status qcow2RemoveBitmap(const std::string& path, const std::string& name);

enum class SnapshotOp { create, apply, remove };
// Tags of the internal snapshots of a qcow2 file no QEMU has open.
Result<std::vector<std::string>> qcow2SnapshotTags(const std::string& path);
// `qemu-img snapshot -c|-a|-d TAG` on a qcow2 no QEMU has open: take, go back to or delete an
// internal snapshot.
Status qcow2Snapshot(const std::string& path, SnapshotOp op, const std::string& tag);

}  // namespace paddock
