// Fast paths over a QMP reply line as it came off the socket, with simdjson instead of a DOM:
// the collector asks every VM for its disk counters every round, and building a JSON tree of
// QEMU's ~2 KB answer per disk was most of what sampling cost (see docs/monitoring.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "engine/vm_counters.h"

namespace paddock::qmp {

// The id of a successful reply ({"return": ..., "id": N}); nullopt for anything else (an event,
// an error reply, malformed JSON), which then goes the ordinary way.
std::optional<std::uint64_t> returnReplyId(std::string_view line);

// The disks of a query-blockstats reply line, by their Paddock ids: "root" from the qdev path
// "/machine/peripheral/disk-root/virtio-backend", else from the node name "drive-root"; other
// block devices (a CD-ROM) are left out. internal on a reply that is not a list of entries
// with stats.
Result<std::vector<DiskCounters>> parseBlockstatsReply(std::string_view line);

}  // namespace paddock::qmp
