#include "integration/proc_helpers.h"

#include <unistd.h>

#include <sstream>
#include <thread>

#include "common/files.h"

namespace paddock::test {

double cpuSeconds(pid_t pid) {
  auto stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return -1;
  std::istringstream in(stat->substr(stat->rfind(')') + 2));
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::vector<double> cpuPercent(const std::vector<pid_t>& pids, std::chrono::seconds window) {
  std::vector<double> before;
  for (pid_t p : pids) before.push_back(cpuSeconds(p));
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(window);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<double> out;
  for (size_t i = 0; i < pids.size(); ++i)
    out.push_back(100 * (cpuSeconds(pids[i]) - before[i]) / seconds);
  return out;
}

std::string statusField(const std::string& path, const std::string& key) {
  auto text = readFile(path);
  if (!text) return "";
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) {
      auto v = line.substr(key.size() + 1);
      return v.substr(v.find_first_not_of(" \t"));
    }
  return "";
}

}  // namespace paddock::test
