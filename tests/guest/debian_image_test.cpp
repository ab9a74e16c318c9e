// The "debian" guest image (guest/debian/build.sh): it boots under Paddock from a copy of its root
// filesystem grown to the VM's disk size, real cloud-init applies Paddock's NoCloud seed (hostname,
// users, a static address, run commands), and systemd comes up with no failed unit.

#include <algorithm>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "common/subprocess.h"
#include "integration/harness.h"
#include "integration/net_helpers.h"

namespace paddock::test {
namespace {

using namespace std::chrono_literals;

class DebianImage : public NetnsDaemonTest {};

const char* kSeed = R"yaml(hostname: "bench-{name}"
users:
  - name: ops
    ssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample ops@lab"]
nics: [static]
runcmd:
  - echo "seeded-$(hostname)" > /root/seeded
)yaml";

TEST_F(DebianImage, BootsFromItsRootDiskAndCloudInitAppliesTheSeed) {
  auto& d = *d_;
  // Bad input first: no disk to hold the root filesystem, or one smaller than it.
  auto noDisk = d.cli({"vm", "create", "bad", "--image", "debian", "--memory", "1G"});
  EXPECT_EQ(noDisk.code, 1) << noDisk.err;
  EXPECT_NE(noDisk.err.find("root disk"), std::string::npos) << noDisk.err;
  auto small = d.cli({"vm", "create", "bad", "--image", "debian", "--disk", "root=256M"});
  EXPECT_EQ(small.code, 1) << small.err;
  EXPECT_NE(small.err.find("needs"), std::string::npos) << small.err;
  EXPECT_EQ(d.cli({"vm", "show", "bad"}).code, 3) << "a refused VM was created";
  EXPECT_FALSE(pathExists(d.stateDir() + "/disks/bad"));

  std::string seedFile = d.stateDir() + "/bench.yaml";
  ASSERT_TRUE(writeFileAtomic(seedFile, kSeed));
  ASSERT_EQ(d.cli({"customization", "create", "bench", "--file", seedFile}).code, 0);
  ASSERT_EQ(d.cli({"network", "create", "lan", "--subnet", "10.62.0.0/24", "--dhcp-range",
                   "10.62.0.100-10.62.0.200"})
                .code,
            0);
  auto made =
      d.cli({"--json", "vm", "create", "deb", "--image", "debian", "--vcpus", "2", "--memory", "1G",
             "--disk", "root=3G", "--nic", "network=lan,ip=auto", "--customization", "bench"});
  ASSERT_EQ(made.code, 0) << made.err;
  std::string ip = made.json()["nics"][0]["ip"];
  auto started = d.cli({"vm", "start", "deb", "--wait-ready"});
  ASSERT_EQ(started.code, 0) << started.err;
  EXPECT_NE(d.vm("deb")["runtime"]["ready_line"].get<std::string>().find("hostname=bench-deb"),
            std::string::npos)
      << d.vm("deb")["runtime"]["ready_line"];

  std::string out;
  ASSERT_EQ(guestRun(d, "deb",
                     "cat /root/seeded /home/ops/.ssh/authorized_keys; echo SIZE=$(df -m "
                     "--output=size / | tail -1 | tr -d ' ') CPUS=$(nproc); ip -4 -o addr show "
                     "scope global; uname -r",
                     &out),
            0)
      << out;
  EXPECT_NE(out.find("seeded-bench-deb"), std::string::npos) << out;
  EXPECT_NE(out.find("ops@lab"), std::string::npos) << out;
  EXPECT_NE(out.find("inet " + ip + "/24"), std::string::npos) << out;
  EXPECT_NE(out.find("cloud-amd64"), std::string::npos) << out;
  EXPECT_NE(out.find("CPUS=2"), std::string::npos) << out;
  // The root filesystem grew to the disk: 3 GiB, less ext4's own share (the image's is 1.8 GiB).
  auto at = out.rfind("SIZE=");
  ASSERT_NE(at, std::string::npos) << out;
  int sizeMib = std::atoi(out.c_str() + at + 5);
  EXPECT_GT(sizeMib, 2800) << out;
  EXPECT_LE(sizeMib, 3072) << out;

  // systemd settles with nothing failed (cloud-init's modules included).
  std::string state;
  waitFor(
      [&] {
        state.clear();
        guestRun(d, "deb",
                 "echo STATE=$(systemctl is-system-running) FAILED=$(systemctl --failed "
                 "--plain --no-legend | wc -l)",
                 &state);
        return state.find("starting") == std::string::npos;
      },
      60s);
  EXPECT_NE(state.find("STATE=running FAILED=0"), std::string::npos) << state;

  // The image carries the source tree's workload files (the benchmark runs them natively from
  // there): the same SHA-256 sums, listed the same way.
  std::string files = "xen-2004.sh web-serve.sh micro.c web-dynamic.c";
  auto here = runCommand({"sh", "-c",
                          "cd '" + std::string(PADDOCK_SOURCE_DIR) +
                              "/guest/debian/workloads' && sha256sum " + files});
  ASSERT_TRUE(here && here->exitCode == 0);
  out.clear();
  ASSERT_EQ(
      guestRun(d, "deb", "(cd /usr/local/lib/paddock-bench && sha256sum " + files + ")", &out), 0)
      << out;
  out.erase(std::remove(out.begin(), out.end(), '\r'), out.end());
  EXPECT_EQ(out, here->out) << "the image's workloads are not the source tree's";

  // The static address works on the wire: the guest reaches its gateway.
  out.clear();
  EXPECT_EQ(guestRun(d, "deb", "ping -c 1 -W 5 10.62.0.1", &out), 0) << out;
  d.forceStopAll();
}

}  // namespace
}  // namespace paddock::test
