#include "engine/qemu/qmp_raw_reply.h"

#include <simdjson.h>

#include <fmt/format.h>

namespace paddock::qmp {

namespace sj = simdjson::ondemand;

namespace {

// One parser per thread (the transports' reader threads, the collector): it keeps its buffers.
sj::parser& threadParser() {
  thread_local sj::parser parser;
  return parser;
}

Error badBlockstats(std::string_view why) {
  return makeError(Errc::internal, fmt::format("QMP query-blockstats: unexpected reply ({})", why));
}

std::string diskIdOf(std::string_view qdev, std::string_view nodeName) {
  constexpr std::string_view prefix = "/machine/peripheral/disk-";
  if (qdev.substr(0, prefix.size()) == prefix) {
    auto rest = qdev.substr(prefix.size());
    return std::string(rest.substr(0, rest.find('/')));
  }
  if (nodeName.substr(0, 6) == "drive-") return std::string(nodeName.substr(6));
  return "";
}

// Reads the counters Paddock keeps out of one "stats" object; other fields are skipped.
simdjson::error_code readStats(sj::object stats, DiskCounters& d) {
  for (auto field : stats) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return e;
    std::uint64_t* target = key == "rd_bytes"           ? &d.readBytes
                            : key == "wr_bytes"         ? &d.writeBytes
                            : key == "rd_operations"    ? &d.readOps
                            : key == "wr_operations"    ? &d.writeOps
                            : key == "rd_total_time_ns" ? &d.readTimeNs
                            : key == "wr_total_time_ns" ? &d.writeTimeNs
                                                        : nullptr;
    if (!target) continue;
    std::uint64_t v = 0;
    if (field.value().get_uint64().get(v) == simdjson::SUCCESS) *target = v;
  }
  return simdjson::SUCCESS;
}

}  // namespace

std::optional<std::uint64_t> returnReplyId(std::string_view line) {
  simdjson::padded_string text(line);
  sj::document doc;
  sj::object top;
  if (threadParser().iterate(text).get(doc) || doc.get_object().get(top)) return std::nullopt;
  bool isReturn = false;
  std::optional<std::uint64_t> id;
  for (auto field : top) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    if (key == "return") {
      isReturn = true;
    } else if (key == "id") {
      std::uint64_t v = 0;
      if (field.value().get_uint64().get(v)) return std::nullopt;
      id = v;
    } else {
      return std::nullopt;  // "event", "error", "QMP" or something new: the ordinary path
    }
  }
  return isReturn ? id : std::nullopt;
}

Result<std::vector<DiskCounters>> parseBlockstatsReply(std::string_view line) {
  simdjson::padded_string text(line);
  sj::document doc;
  sj::array entries;
  if (threadParser().iterate(text).get(doc) || doc["return"].get_array().get(entries))
    return badBlockstats("no list");
  std::vector<DiskCounters> out;
  for (auto element : entries) {
    sj::object entry;
    if (element.get_object().get(entry)) return badBlockstats("an entry is not an object");
    DiskCounters d;
    std::string qdev, node;  // copies: a string_view dies with the parser's next value
    bool haveStats = false;
    for (auto field : entry) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return badBlockstats("bad key");
      if (key == "qdev" || key == "node-name") {
        std::string_view v;
        if (field.value().get_string().get(v)) return badBlockstats("bad name");
        (key == "qdev" ? qdev : node) = v;
      } else if (key == "stats") {
        sj::object stats;
        if (field.value().get_object().get(stats) || readStats(stats, d))
          return badBlockstats("bad stats");
        haveStats = true;
      }
    }
    if (!haveStats) return badBlockstats("an entry without stats");
    d.disk = diskIdOf(qdev, node);
    if (!d.disk.empty()) out.push_back(std::move(d));
  }
  return out;
}

}  // namespace paddock::qmp
