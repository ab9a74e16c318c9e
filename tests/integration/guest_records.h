// A guest that keeps writing numbered records to its own disk, and the check that every record
// it wrote is there: how the migration tests show that no write was lost on the way.
#pragma once

#include <gtest/gtest.h>

#include <sys/types.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <string>
#include <thread>

#include "common/files.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {

// Record i (8 digits) goes to byte 8·(4096 + i) of /dev/vda, then its number to /tmp/count,
// renamed into place so that a reader never finds the file empty between truncation and write.
inline constexpr const char* kWriter =
    "( i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); printf '%08d' $i | dd of=/dev/vda bs=8 "
    "seek=$((4096+i)) conv=notrunc 2>/dev/null; echo $i > /tmp/count.new; "
    "mv /tmp/count.new /tmp/count; sleep 0.02; done ) "
    ">/dev/null 2>&1 & true";  // guestRun appends "; echo ...", and "&;" is a syntax error
// Stops the writer and reads every record back from the disk (not the page cache).
inline constexpr const char* kChecker =
    "touch /tmp/stop; sleep 1; sync; echo 3 > /proc/sys/vm/drop_caches; n=$(cat /tmp/count); "
    "bad=0; i=1; while [ $i -le $n ]; do v=$(dd if=/dev/vda bs=8 skip=$((4096+i)) count=1 "
    "2>/dev/null); [ \"$v\" = \"$(printf '%08d' $i)\" ] || bad=$((bad+1)); i=$((i+1)); done; "
    "echo \"CHEC\"\"KED n=$n bad=$bad\"";

// What the guest's kernel said of a crash on its console since its QEMU started here (the
// console log's last 3000 bytes), or "" when it said nothing of the kind.
inline std::string kernelTrouble(TestDaemon& d, const std::string& vm) {
  auto console = readFile(d.stateDir() + "/run/" + vm + "/console.log");
  if (!console) return "no console log";
  for (const char* oops : {"BUG:", "corruption", "general protection", "Oops"})
    if (console->find(oops) != std::string::npos)
      return console->substr(console->size() > 3000 ? console->size() - 3000 : 0);
  return "";
}

// The writer's last record number, read over the console; -1 if three tries could not read it
// (a console session that could not be opened, or garbled output).
inline int guestCount(TestDaemon& d, const std::string& vm) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::string out;
    std::smatch m;
    if (guestRun(d, vm, "echo \"CO\"\"UNT=$(cat /tmp/count)\"", &out) == 0 &&
        std::regex_search(out, m, std::regex("COUNT=(\\d+)")))
      return std::stoi(m[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return -1;
}

struct Records {
  int written = -1;
  int bad = -1;  // records on the disk that are not what the writer wrote
};

// Stops the writer and checks every record it wrote (kChecker); a failure if it cannot tell.
inline Records checkRecords(TestDaemon& d, const std::string& vm) {
  std::string out;
  std::smatch m;
  if (guestRun(d, vm, kChecker, &out) != 0 ||
      !std::regex_search(out, m, std::regex("CHECKED n=(\\d+) bad=(\\d+)"))) {
    ADD_FAILURE() << "no record check from " << vm << ": " << out;
    return {};
  }
  return {std::stoi(m[1]), std::stoi(m[2])};
}

inline pid_t qemuPid(TestDaemon& d, const std::string& vm) {
  auto text = readFile(d.stateDir() + "/run/" + vm + "/qemu.pid");
  return text ? static_cast<pid_t>(std::atol(text->c_str())) : 0;
}

}  // namespace paddock::test
