#include "directory_file/directory_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "directory_file/apply_request.h"
#include "directory_file/resources_section.h"

namespace paddock {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Raw strings start with a newline so the YAML can be laid out readably; drop it so line 1 of the
// text is the first line shown.
std::string yaml(std::string_view s) {
  if (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  return std::string(s);
}

const std::string kSite = yaml(R"(
directory: lab
profiles:
  small:
    vcpus: 1
    memory: 256M
    image: tiny
    disks:
      - {name: root, size: 1G}
    labels: {tier: web, team: a}
  big:
    include: small
    memory: 1G
vms:
  web1:
    include: small
    description: front end
    state: running
  db1:
    include: big
    vcpus: 2
    labels: {team: b}
    disks:
      - {name: root, size: 2G}
      - {name: data, size: 4G}
)");

DirectoryFile parseOk(const std::string& text, const std::string& path = "site.yaml") {
  auto r = parseDirectoryText(text, path);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : DirectoryFile{};
}

Error parseFails(const std::string& text, const std::string& path = "site.yaml") {
  auto r = parseDirectoryText(text, path);
  EXPECT_FALSE(r.ok()) << "accepted:\n" << text;
  if (r.ok()) return Error{};
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << "error is not one line";
  return r.error();
}

const DesiredVm* findVm(const DirectoryFile& f, const std::string& name) {
  for (const auto& vm : f.vms)
    if (vm.spec.name == name) return &vm;
  return nullptr;
}

TEST(DirectoryFile, VmInheritsEverythingFromItsIncludedProfile) {
  auto file = parseOk(kSite);
  EXPECT_EQ(file.name, "lab");
  EXPECT_EQ(file.path, "site.yaml");
  ASSERT_EQ(file.vms.size(), 2u);
  const DesiredVm& web = file.vms[0];  // file order is kept
  EXPECT_EQ(web.spec.name, "web1");
  EXPECT_EQ(web.line, 14);
  EXPECT_EQ(web.spec.vcpus, 1);
  EXPECT_EQ(web.spec.memoryMib, 256u);
  EXPECT_EQ(web.spec.image, "tiny");
  EXPECT_EQ(web.spec.disks, (std::vector<DiskSpec>{{"root", 1024}}));
  EXPECT_EQ(web.spec.description, "front end");
  EXPECT_EQ(web.state, VmState::running);
  EXPECT_EQ(web.fieldLines.at("memory_mib"), 5);  // inherited: the profile's line
  EXPECT_EQ(web.fieldLines.at("description"), 16);
}

TEST(DirectoryFile, CountAndNameRangesMakeSeveralVmsFromATemplate) {
  auto file = parseOk(R"(directory: farm
profiles:
  web:
    template: base
    memory: 512M
vms:
  web:
    include: web
    count: 3
    customization: webspec
  db[1-2]:
    template: base
    linked: false
)");
  ASSERT_EQ(file.vms.size(), 5u);
  EXPECT_EQ(file.vms[0].spec.name, "web1");
  EXPECT_EQ(file.vms[2].spec.name, "web3");
  EXPECT_EQ(file.vms[3].spec.name, "db1");
  EXPECT_EQ(file.vms[4].spec.name, "db2");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(file.vms[i].spec.templateName, "base");
    EXPECT_TRUE(file.vms[i].spec.linkedClone) << "linked is the default";
    EXPECT_EQ(file.vms[i].spec.memoryMib, 512u);
    EXPECT_EQ(file.vms[i].spec.customization, "webspec");
    EXPECT_TRUE(file.vms[i].spec.disks.empty());
    EXPECT_EQ(file.vms[i].fieldLines.count("memory_mib"), 1u);
    EXPECT_EQ(file.vms[i].fieldLines.count("vcpus"), 0u) << "not set: taken from the template";
  }
  EXPECT_FALSE(file.vms[3].spec.linkedClone);
}

TEST(DirectoryFile, TemplateVmsCannotAlsoSayDisksAndCountsAreBounded) {
  auto disks = parseFails("vms:\n  a:\n    template: t\n    disks: [{name: root, size: 1G}]\n");
  EXPECT_NE(disks.message.find("site.yaml:4: vms.a.disks: 'disks' cannot be set with 'template'"),
            std::string::npos)
      << disks.message;
  auto linked = parseFails("vms:\n  a:\n    image: tiny\n    linked: true\n");
  EXPECT_NE(linked.message.find("'linked' needs 'template'"), std::string::npos) << linked.message;
  auto zero = parseFails("vms:\n  a:\n    image: tiny\n    count: 0\n");
  EXPECT_NE(zero.message.find("site.yaml:4: vms.a.count: count must be 1 to 1000"),
            std::string::npos)
      << zero.message;
  auto both = parseFails("vms:\n  a[1-2]:\n    image: tiny\n    count: 2\n");
  EXPECT_NE(both.message.find("count cannot be combined with a name range"), std::string::npos);
  auto backwards = parseFails("vms:\n  a[3-1]:\n    image: tiny\n");
  EXPECT_NE(backwards.message.find("runs backwards"), std::string::npos) << backwards.message;
}

TEST(DirectoryFile, ProfileIncludingAProfileIsOverriddenByItAndByTheVm) {
  auto file = parseOk(kSite);
  const DesiredVm* db = findVm(file, "db1");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->spec.memoryMib, 1024u);  // big overrides small
  EXPECT_EQ(db->spec.vcpus, 2);          // the VM overrides big
  EXPECT_EQ(db->spec.image, "tiny");     // small, through big
  EXPECT_FALSE(db->state.has_value());
  EXPECT_EQ(db->fieldLines.at("memory_mib"), 12);
  EXPECT_EQ(db->fieldLines.at("vcpus"), 20);
  EXPECT_EQ(db->fieldLines.at("image"), 6);
}

TEST(DirectoryFile, ListGivenInTheVmReplacesTheProfilesListEntirely) {
  auto file = parseOk(kSite);
  const DesiredVm* db = findVm(file, "db1");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->spec.disks, (std::vector<DiskSpec>{{"root", 2048}, {"data", 4096}}));
  EXPECT_EQ(db->fieldLines.at("disks"), 22);
  EXPECT_EQ(db->fieldLines.at("disks[1].size_mib"), 24);
}

TEST(DirectoryFile, LabelsMergeKeyByKeyAndEveryVmGetsTheDirectoryLabel) {
  auto file = parseOk(kSite);
  const DesiredVm* db = findVm(file, "db1");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->spec.labels, (std::map<std::string, std::string>{
                                 {"paddock.directory", "lab"}, {"team", "b"}, {"tier", "web"}}));
  EXPECT_EQ(findVm(file, "web1")->spec.labels.at("paddock.directory"), "lab");
}

TEST(DirectoryFile, DirectoryNameDefaultsToTheFileBaseName) {
  auto file = parseOk("vms:\n  a:\n    image: tiny\n", "/etc/paddock/site.yaml");
  EXPECT_EQ(file.name, "site");
  EXPECT_EQ(file.vms.at(0).spec.labels.at("paddock.directory"), "site");
}

TEST(DirectoryFile, FileNameThatIsNoValidDirectoryNameAsksForDirectoryKey) {
  auto e = parseFails("vms: {}\n", "My_Site.yaml");
  EXPECT_THAT(e.message, StartsWith("My_Site.yaml:1: directory: "));
  EXPECT_THAT(e.message, HasSubstr("set 'directory:'"));
}

TEST(DirectoryFile, EmptyVmsMapIsAValidDirectoryOfNoVms) {
  auto file = parseOk("directory: lab\nvms: {}\n");
  EXPECT_TRUE(file.vms.empty());
}

TEST(DirectoryFile, MissingVmsKeyIsRefusedRatherThanMeaningDeleteEverything) {
  auto e = parseFails("directory: lab\nprofiles: {}\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:1: vms: missing 'vms'"));
}

TEST(DirectoryFile, EmptyFileIsRefused) {
  auto e = parseFails("# nothing here\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:1: the file is empty"));
}

TEST(DirectoryFile, IncludeCycleIsReportedWithTheIncludeLineAndTheCycle) {
  auto e = parseFails(yaml(R"(
profiles:
  a:
    include: b
  b:
    include: a
vms: {}
)"));
  EXPECT_EQ(e.message, "site.yaml:5: profiles.b.include: include cycle: a → b → a");
  EXPECT_EQ(e.field, "profiles.b.include");
}

TEST(DirectoryFile, ProfileIncludingItselfIsACycle) {
  auto e = parseFails("profiles:\n  a:\n    include: a\nvms: {}\n");
  EXPECT_EQ(e.message, "site.yaml:3: profiles.a.include: include cycle: a → a");
}

TEST(DirectoryFile, UnknownProfileInIncludeNamesFileLineAndField) {
  auto e = parseFails(yaml(R"(
profiles:
  small:
    image: tiny
vms:
  web1:
    include: smal
)"));
  EXPECT_EQ(e.message, "site.yaml:6: vms.web1.include: unknown profile 'smal' (profiles: small)");
  EXPECT_EQ(e.field, "vms.web1.include");
}

TEST(DirectoryFile, YamlSyntaxErrorReportsTheLineYamlCppFound) {
  auto e = parseFails(yaml(R"(
vms:
  web1:
    disks: [{name: root, size: 1G}
    image: tiny
)"));
  EXPECT_THAT(e.message, StartsWith("site.yaml:4: YAML syntax error: "));
}

TEST(DirectoryFile, DuplicateVmKeyIsRefusedNamingBothLines) {
  auto e = parseFails(yaml(R"(
vms:
  web1:
    image: tiny
  web1:
    image: alpine
)"));
  EXPECT_EQ(e.message, "site.yaml:4: vms.web1: duplicate key 'web1' (first at line 2)");
}

TEST(DirectoryFile, DuplicateFieldInAVmIsRefused) {
  auto e = parseFails("vms:\n  web1:\n    image: tiny\n    image: alpine\n");
  EXPECT_EQ(e.message, "site.yaml:4: vms.web1.image: duplicate key 'image' (first at line 3)");
}

TEST(DirectoryFile, UnknownVmFieldIsNamedWithItsLine) {
  auto e = parseFails("vms:\n  web1:\n    image: tiny\n    memroy: 1G\n");
  EXPECT_THAT(e.message,
              StartsWith("site.yaml:4: vms.web1.memroy: unknown field 'memroy' (known: "));
  EXPECT_EQ(e.field, "vms.web1.memroy");
}

TEST(DirectoryFile, UnknownTopLevelKeyIsRefused) {
  auto e = parseFails("vms: {}\nvm: {}\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:2: vm: unknown top-level key 'vm'"));
}

TEST(DirectoryFile, UnknownDiskFieldIsNamed) {
  auto e = parseFails("vms:\n  a:\n    image: tiny\n    disks:\n      - {name: root, sise: 1G}\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:5: vms.a.disks[0].sise: unknown field 'sise'"));
}

TEST(DirectoryFile, ZeroMemoryNamesItsLine) {
  auto e = parseFails("vms:\n  web1:\n    image: tiny\n    memory: 0\n");
  EXPECT_EQ(e.message, "site.yaml:4: vms.web1.memory: memory must be at least 16M (got 0M)");
  EXPECT_EQ(e.field, "vms.web1.memory");
}

TEST(DirectoryFile, BadValueInheritedFromAProfileBlamesTheProfileLine) {
  auto e = parseFails(yaml(R"(
profiles:
  small:
    image: tiny
    memory: 8M
vms:
  web1:
    include: small
)"));
  EXPECT_EQ(e.message,
            "site.yaml:4: vms.web1.memory (from profile small): memory must be at least 16M "
            "(got 8M)");
  EXPECT_EQ(e.field, "vms.web1.memory");
}

TEST(DirectoryFile, MissingImageFallsBackToTheVmLine) {
  auto e = parseFails("vms:\n  web1:\n    vcpus: 2\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:2: vms.web1.image: a VM needs an image"));
}

TEST(DirectoryFile, DuplicateDiskNameBlamesTheSecondDisk) {
  auto e = parseFails(yaml(R"(
vms:
  web1:
    image: tiny
    disks:
      - name: root
        size: 1G
      - name: root
        size: 2G
)"));
  EXPECT_EQ(e.message, "site.yaml:7: vms.web1.disks[1].name: disk name 'root' is used twice");
}

TEST(DirectoryFile, BadStateIsRefused) {
  auto e = parseFails("vms:\n  web1:\n    image: tiny\n    state: paused\n");
  EXPECT_EQ(e.message,
            "site.yaml:4: vms.web1.state: state must be running or stopped (got 'paused')");
}

TEST(DirectoryFile, ProfileCannotSetState) {
  auto e = parseFails("profiles:\n  p:\n    state: running\nvms: {}\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:3: profiles.p.state: a profile cannot set state"));
}

TEST(DirectoryFile, WrongTypesAreNamed) {
  EXPECT_EQ(parseFails("vms:\n  a:\n    image: tiny\n    vcpus: two\n").message,
            "site.yaml:4: vms.a.vcpus: 'two' is not a whole number");
  EXPECT_THAT(parseFails("vms:\n  a:\n    image: tiny\n    disks: root\n").message,
              StartsWith("site.yaml:4: vms.a.disks: expected a list of disks"));
  EXPECT_THAT(parseFails("vms:\n  a:\n    image: [tiny]\n").message,
              StartsWith("site.yaml:3: vms.a.image: expected a string"));
  EXPECT_THAT(parseFails("vms:\n  a:\n    image: tiny\n    labels: [x]\n").message,
              StartsWith("site.yaml:4: vms.a.labels: expected a map"));
  EXPECT_THAT(parseFails("vms: [a, b]\n").message, StartsWith("site.yaml:1: vms: expected a map"));
}

TEST(DirectoryFile, BadSizeQuotesParseSizeMib) {
  auto e = parseFails("vms:\n  a:\n    image: tiny\n    memory: 12Q\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:4: vms.a.memory: size '12Q' has an unknown unit"));
}

TEST(DirectoryFile, BareNumberMemoryMeansMib) {
  auto file = parseOk("vms:\n  a:\n    image: tiny\n    memory: 512\n");
  EXPECT_EQ(file.vms.at(0).spec.memoryMib, 512u);
}

TEST(DirectoryFile, InvalidVmNameIsRefused) {
  auto e = parseFails("vms:\n  Web_1:\n    image: tiny\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:2: vms.Web_1: VM name 'Web_1' contains"));
}

TEST(DirectoryFile, DirectoryLabelCannotBeSetByHand) {
  auto e = parseFails("vms:\n  a:\n    image: tiny\n    labels:\n      paddock.directory: x\n");
  EXPECT_THAT(e.message, StartsWith("site.yaml:5: vms.a.labels.paddock.directory: "));
}

TEST(DirectoryFile, BadAccelIsRefused) {
  auto e = parseFails("vms:\n  a:\n    image: tiny\n    accel: hvf\n");
  EXPECT_EQ(e.message, "site.yaml:4: vms.a.accel: accel must be auto, kvm or tcg (got 'hvf')");
}

DiskLimits diskLimits(std::uint64_t readBps, std::uint64_t writeBps, std::uint64_t readIops,
                      std::uint64_t writeIops) {
  DiskLimits l;
  l.readBps = readBps;
  l.writeBps = writeBps;
  l.readIops = readIops;
  l.writeIops = writeIops;
  return l;
}

TEST(DirectoryFileResources, FieldsMapOntoTheResourceSpecWithSizesAndRates) {
  auto file = parseOk(yaml(R"(
vms:
  web1:
    image: tiny
    memory: 256M
    disks: [{name: data, size: 1G}]
    resources:
      cpu_shares: 2000
      cpu_limit: 0.5
      cpus: [0, 1]
      dedicate: true
      latency: high
      memory_limit: 1G
      balloon: 192M
      disk_limits:
        data: {write_bps: 1M, read_iops: 200}
)"));
  ResourceSpec want;
  want.cpuShares = 2000;
  want.cpuLimit = 0.5;
  want.cpus = {0, 1};
  want.dedicate = true;
  want.latencyHigh = true;
  want.memoryLimitMib = 1024;
  want.balloonMib = 192;
  want.diskLimits["data"] = diskLimits(0, 1048576, 200, 0);
  const DesiredVm& vm = file.vms.at(0);
  EXPECT_EQ(vm.spec.resources, want);
  EXPECT_EQ(vm.fieldLines.at("resources"), 6);
  EXPECT_EQ(vm.fieldLines.at("resources.cpu_shares"), 7);
  EXPECT_EQ(vm.fieldLines.at("resources.balloon_mib"), 13);
  EXPECT_EQ(vm.fieldLines.at("resources.disk_limits.data.read_iops"), 15);
}

TEST(DirectoryFileResources, ReservationsBurstsGroupsAndNicLimitsReadAsWritten) {
  auto file = parseOk(yaml(R"(
vms:
  db1:
    image: tiny
    memory: 512M
    disks: [{name: data, size: 1G}, {name: logs, size: 1G}]
    nics: [{network: lan, mac: "02:50:44:00:00:0a"}]
    resources:
      cpu_reservation: 0.5
      memory_reservation: 256M
      page_sharing: false
      disk_limits:
        data: {write_bps: 1M, write_bps_max: 8M, burst_seconds: 2, group: pair}
        logs: {write_bps: 1M, write_bps_max: 8M, burst_seconds: 2, group: pair}
      nic_limits:
        "02:50:44:00:00:0a": {rx_bps: 10M, tx_bps: 1M}
)"));
  const ResourceSpec& r = file.vms.at(0).spec.resources;
  EXPECT_EQ(r.cpuReservation, 0.5);
  EXPECT_EQ(r.memoryReservationMib, 256u);
  EXPECT_FALSE(r.pageSharing);
  EXPECT_EQ(r.diskLimits.at("logs").group, "pair");
  EXPECT_EQ(r.diskLimits.at("data").writeBpsMax, 8u << 20);
  EXPECT_EQ(r.diskLimits.at("data").burstSeconds, 2u);
  EXPECT_EQ(r.nicLimits.at("02:50:44:00:00:0a").rxBps, 10u << 20);
  EXPECT_EQ(r.nicLimits.at("02:50:44:00:00:0a").txBps, 1u << 20);
}

TEST(DirectoryFileResources, SizesAreSizesLikeMemoryWithBareNumbersInMibAndOffForNone) {
  auto file = parseOk(yaml(R"(
vms:
  web1:
    image: tiny
    memory: 256M
    resources: {memory_limit: 512, balloon: off}
)"));
  EXPECT_EQ(file.vms.at(0).spec.resources.memoryLimitMib, 512u);
  EXPECT_EQ(file.vms.at(0).spec.resources.balloonMib, 0u);
}

// Generic on purpose: a field added to ResourceSpec as FOO_mib is written FOO: SIZE unchanged.
TEST(DirectoryFileResources, EveryMibFieldOfTheResourceSpecIsWrittenWithoutTheSuffixAsASize) {
  json all = toJson(ResourceSpec{});
  int sizes = 0;
  for (auto it = all.begin(); it != all.end(); ++it) {
    if (!it.key().ends_with("_mib")) continue;
    ++sizes;
    std::string key = it.key().substr(0, it.key().size() - 4);
    YamlReader in("site.yaml");
    std::map<std::string, int> lines;
    auto r = parseResources(in, Entry{"resources", 1, YAML::Load("{" + key + ": 2G}")},
                            "vms.a.resources", lines);
    ASSERT_TRUE(r.ok()) << key << ": " << r.error().message;
    EXPECT_EQ(*r, json({{it.key(), 2048}})) << key;
    EXPECT_EQ(lines.at("resources." + it.key()), 1) << key;

    auto api = parseResources(in, Entry{"resources", 1, YAML::Load("{" + it.key() + ": 2048}")},
                              "vms.a.resources", lines);
    ASSERT_FALSE(api.ok()) << it.key() << " is the API's spelling, not the file's";
    EXPECT_EQ(api.error().message,
              fmt::format("site.yaml:1: vms.a.resources.{}: unknown field '{}' (write it as a "
                          "size: {}: 256M)",
                          it.key(), it.key(), key));
  }
  EXPECT_GE(sizes, 2);  // memory_limit and balloon at least
}

const std::string kResourceProfiles = yaml(R"(
profiles:
  small:
    memory: 256M
    image: tiny
    disks: [{name: root, size: 1G}, {name: data, size: 1G}]
    resources:
      cpu_shares: 500
      cpus: [0, 1]
      balloon: 192M
      disk_limits:
        root: {read_iops: 100}
        data: {write_bps: 2M, write_iops: 50}
vms:
  web1:
    include: small
    resources:
      cpu_shares: 2000
      cpu_limit: 0.5
      disk_limits:
        data: {write_bps: 1M, read_iops: 200}
  db1:
    include: small
)");

TEST(DirectoryFileResources, MergeKeyByKeyOverTheProfileAndDiskLimitsDiskByDisk) {
  auto file = parseOk(kResourceProfiles);
  const DesiredVm* web = findVm(file, "web1");
  ASSERT_NE(web, nullptr);
  const ResourceSpec& r = web->spec.resources;
  EXPECT_EQ(r.cpuShares, 2000);                                  // the VM's
  EXPECT_EQ(r.cpuLimit, 0.5);                                    // the VM's
  EXPECT_EQ(r.cpus, (std::vector<int>{0, 1}));                   // the profile's
  EXPECT_EQ(r.balloonMib, 192u);                                 // the profile's
  EXPECT_EQ(r.diskLimits.at("root"), diskLimits(0, 0, 100, 0));  // the profile's disk
  // The VM's disk replaces the profile's limits on it whole: write_iops 50 is gone.
  EXPECT_EQ(r.diskLimits.at("data"), diskLimits(0, 1048576, 200, 0));
  EXPECT_EQ(web->fieldLines.at("resources.cpu_shares"), 17);
  EXPECT_EQ(web->fieldLines.at("resources.cpus"), 8);
  EXPECT_EQ(web->fieldLines.at("resources.disk_limits.root.read_iops"), 11);
  EXPECT_EQ(web->fieldLines.at("resources.disk_limits.data"), 20);
  EXPECT_FALSE(web->fieldLines.contains("resources.disk_limits.data.write_iops"));

  const DesiredVm* db = findVm(file, "db1");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->spec.resources.cpuShares, 500);
  EXPECT_EQ(db->spec.resources.diskLimits.at("data"), diskLimits(0, 2 * 1048576, 0, 50));
}

// A VM with image, memory and a resources: block starting on line 7.
std::string withResources(const std::string& lines) {
  return "directory: lab\nvms:\n  web1:\n    image: tiny\n    memory: 256M\n"
         "    disks: [{name: data, size: 1G}]\n    resources:\n" +
         lines;
}

TEST(DirectoryFileResources, UnknownFieldNamesFileLineAndField) {
  auto e = parseFails(withResources("      cpu_shares: 10\n      cpu_sharez: 10\n"));
  EXPECT_THAT(e.message, StartsWith("site.yaml:9: vms.web1.resources.cpu_sharez: unknown field "
                                    "'cpu_sharez' (known: balloon, "));
  EXPECT_THAT(e.message, HasSubstr(" cpu_shares, "));
  EXPECT_THAT(e.message, Not(HasSubstr("_mib")));
  EXPECT_EQ(e.field, "vms.web1.resources.cpu_sharez");

  auto disk = parseFails(withResources("      disk_limits:\n        data: {burst: 5}\n"));
  EXPECT_EQ(disk.message,
            "site.yaml:9: vms.web1.resources.disk_limits.data.burst: unknown field "
            "'resources.disk_limits.data.burst'");
}

TEST(DirectoryFileResources, BadValueNamesFileLineAndFieldWithTheApisMessage) {
  auto e = parseFails(withResources("      cpu_limit: 0.5\n      cpu_shares: -1\n"));
  EXPECT_EQ(e.message,
            "site.yaml:9: vms.web1.resources.cpu_shares: cpu_shares must be a whole number of at "
            "least 0");
  EXPECT_EQ(e.field, "vms.web1.resources.cpu_shares");
  EXPECT_EQ(parseFails(withResources("      cpu_shares: 100001\n")).message,
            "site.yaml:8: vms.web1.resources.cpu_shares: cpu_shares must be at most 100000");
  EXPECT_EQ(parseFails(withResources("      latency: low\n")).message,
            "site.yaml:8: vms.web1.resources.latency: latency must be normal or high");
}

TEST(DirectoryFileResources, ValuesGoByTheirYamlTypeSoQuotedNumbersAreStrings) {
  EXPECT_EQ(parseFails(withResources("      cpu_shares: \"2000\"\n")).message,
            "site.yaml:8: vms.web1.resources.cpu_shares: cpu_shares must be a whole number of at "
            "least 0");
  EXPECT_EQ(parseFails(withResources("      dedicate: yes\n")).message,
            "site.yaml:8: vms.web1.resources.dedicate: dedicate must be true or false");
  EXPECT_EQ(parseFails(withResources("      cpus: 1\n")).message,
            "site.yaml:8: vms.web1.resources.cpus: cpus must be an array of host CPU numbers");
  EXPECT_EQ(parseFails(withResources("      cpu_limit: .inf\n")).message,
            "site.yaml:8: vms.web1.resources.cpu_limit: cpu_limit must be a number of host CPUs, "
            "e.g. 0.25");
  EXPECT_EQ(parseOk(withResources("      cpu_limit: 1\n")).vms.at(0).spec.resources.cpuLimit, 1.0);
  EXPECT_THAT(parseFails("vms:\n  a:\n    image: tiny\n    resources: [1]\n").message,
              StartsWith("site.yaml:4: vms.a.resources: expected a map of resource controls"));
}

TEST(DirectoryFileResources, BadSizeOrRateQuotesTheParser) {
  EXPECT_EQ(parseFails(withResources("      balloon: 1Q\n")).message,
            "site.yaml:8: vms.web1.resources.balloon: size '1Q' has an unknown unit (use K, M, G "
            "or T)");
  EXPECT_EQ(parseFails(withResources("      disk_limits:\n        data:\n          write_bps: "
                                     "fast\n"))
                .message,
            "site.yaml:10: vms.web1.resources.disk_limits.data.write_bps: 'fast' is not a rate "
            "(use e.g. 1M or 200)");
}

TEST(DirectoryFileResources, RulesAcrossFieldsBlameTheLineThatSetTheValueEvenInAProfile) {
  auto own = parseFails(withResources("      balloon: 300M\n"));
  EXPECT_EQ(own.message,
            "site.yaml:8: vms.web1.resources.balloon: balloon target 300M is above the VM's "
            "memory 256M");
  EXPECT_EQ(own.field, "vms.web1.resources.balloon");

  auto inherited = parseFails(yaml(R"(
profiles:
  small:
    image: tiny
    resources: {balloon: 192M}
vms:
  web1:
    include: small
    memory: 128M
)"));
  EXPECT_EQ(inherited.message,
            "site.yaml:4: vms.web1.resources.balloon (from profile small): balloon target 192M is "
            "above the VM's memory 128M");

  // The VM replaces the profile's disks, so the profile's limits on "data" name no disk.
  std::string dropped = kResourceProfiles;
  dropped.replace(dropped.find("  db1:\n    include: small\n"), std::string::npos,
                  "  db1:\n    include: small\n    disks: [{name: root, size: 1G}]\n");
  EXPECT_EQ(parseFails(dropped).message,
            "site.yaml:12: vms.db1.resources.disk_limits.data (from profile small): VM 'db1' has "
            "no disk 'data'");
}

TEST(DirectoryFileResources, ApplyRequestCarriesThemToTheDaemon) {
  auto file = parseOk(kResourceProfiles);
  auto desired = desiredFromApplyRequest(toApplyRequest(file, false));
  ASSERT_TRUE(desired.ok()) << desired.error().message;
  EXPECT_EQ(desired->vms.at(0).spec.resources, file.vms.at(0).spec.resources);
  EXPECT_EQ(desired->vms.at(1).spec.resources, file.vms.at(1).spec.resources);
}

const std::string kNetworks = yaml(R"(
directory: lab
networks:
  lan:  {kind: nat, subnet: 10.7.0.0/24, forwards: [tcp:8080:web1:80], description: front}
  back:
    kind: internal
    subnet: 10.8.0.0/24
    dhcp_range: 10.8.0.50-10.8.0.99
    domain: back.lab
    port_groups: [{name: db, vlan: 20}]
    labels: {tier: db}
  seg:  {kind: bridge, uplink: eth1}
  usr:  {kind: user}
vms:
  web1: {image: tiny, nics: [{network: lan, ip: 10.7.0.20}]}
)");

const DesiredNetwork* findNetwork(const DirectoryFile& f, const std::string& name) {
  for (const auto& n : f.networks)
    if (n.spec.name == name) return &n;
  return nullptr;
}

TEST(DirectoryFileNetworks, FieldsMapOntoNetworkSpecsInFileOrder) {
  auto file = parseOk(kNetworks);
  ASSERT_EQ(file.networks.size(), 4u);
  EXPECT_EQ(file.networks[0].spec.name, "lan");
  EXPECT_EQ(file.networks[3].spec.name, "usr");

  const DesiredNetwork* lan = findNetwork(file, "lan");
  EXPECT_EQ(lan->line, 3);
  EXPECT_EQ(lan->spec.kind, NetworkKind::nat);
  EXPECT_EQ(lan->spec.subnet, "10.7.0.0/24");
  EXPECT_EQ(lan->spec.forwards, (std::vector<Forward>{{"tcp", 8080, "web1", 80}}));
  EXPECT_EQ(lan->spec.description, "front");
  EXPECT_EQ(lan->spec.labels, (std::map<std::string, std::string>{{"paddock.directory", "lab"}}));
  // Left empty: the daemon fills them when it creates the network.
  EXPECT_EQ(lan->spec.dhcpStart, "");
  EXPECT_EQ(lan->spec.domain, "");

  const DesiredNetwork* back = findNetwork(file, "back");
  EXPECT_EQ(back->spec.kind, NetworkKind::internal);
  EXPECT_EQ(back->spec.dhcpStart, "10.8.0.50");
  EXPECT_EQ(back->spec.dhcpEnd, "10.8.0.99");
  EXPECT_EQ(back->spec.domain, "back.lab");
  EXPECT_EQ(back->spec.portGroups, (std::vector<PortGroup>{{"db", 20}}));
  EXPECT_EQ(back->spec.labels,
            (std::map<std::string, std::string>{{"paddock.directory", "lab"}, {"tier", "db"}}));
  EXPECT_EQ(back->fieldLines.at("dhcp_start"), 7);
  EXPECT_EQ(back->fieldLines.at("dhcp_end"), 7);
  EXPECT_EQ(back->fieldLines.at("port_groups[0].vlan"), 9);

  EXPECT_EQ(findNetwork(file, "seg")->spec.kind, NetworkKind::bridge);
  EXPECT_EQ(findNetwork(file, "seg")->spec.uplink, "eth1");
  EXPECT_EQ(findNetwork(file, "usr")->spec.kind, NetworkKind::user);
  EXPECT_EQ(file.vms.at(0).spec.nics.at(0).network, "lan");
}

TEST(DirectoryFileNetworks, KindDefaultsToInternalAndAMissingSectionLeavesNetworksAlone) {
  auto file = parseOk("networks:\n  lan: {subnet: 10.7.0.0/24}\nvms: {}\n");
  EXPECT_EQ(file.networks.at(0).spec.kind, NetworkKind::internal);
  EXPECT_TRUE(file.managesNetworks);
  auto without = parseOk("vms: {}\n");
  EXPECT_TRUE(without.networks.empty());
  EXPECT_FALSE(without.managesNetworks);
  auto empty = parseOk("networks: {}\nvms: {}\n");
  EXPECT_TRUE(empty.networks.empty());
  EXPECT_TRUE(empty.managesNetworks);
}

TEST(DirectoryFileNetworks, BadValueNamesFileLineAndField) {
  auto e = parseFails("networks:\n  lan:\n    kind: nat\n    subnet: 10.7.0.1/24\nvms: {}\n");
  EXPECT_EQ(e.message,
            "site.yaml:4: networks.lan.subnet: '10.7.0.1/24' has host bits set (did you mean "
            "10.7.0.0/24?)");
  EXPECT_EQ(e.field, "networks.lan.subnet");
}

TEST(DirectoryFileNetworks, DhcpRangeIsCheckedAgainstTheSubnetOnItsOwnLine) {
  auto e = parseFails(yaml(R"(
networks:
  back:
    subnet: 10.8.0.0/24
    dhcp_range: 10.9.0.50-10.9.0.99
vms: {}
)"));
  EXPECT_EQ(e.message,
            "site.yaml:4: networks.back.dhcp_range: DHCP range 10.9.0.50–10.9.0.99 is outside "
            "the subnet 10.8.0.0/24");
  EXPECT_EQ(e.field, "networks.back.dhcp_range");
}

TEST(DirectoryFileNetworks, DhcpRangeMustBeFirstDashLastAndNeedsASubnet) {
  EXPECT_EQ(
      parseFails("networks:\n  a: {subnet: 10.8.0.0/24, dhcp_range: 10.8.0.50}\nvms: {}\n").message,
      "site.yaml:2: networks.a.dhcp_range: '10.8.0.50' is not a range (use FIRST-LAST, "
      "e.g. 10.7.0.10-10.7.0.99)");
  EXPECT_EQ(parseFails("networks:\n  a:\n    dhcp_range: 10.8.0.50-10.8.0.99\nvms: {}\n").message,
            "site.yaml:3: networks.a.dhcp_range: a DHCP range needs a subnet to lie in: give the "
            "subnet too");
}

TEST(DirectoryFileNetworks, UnknownFieldIsNamedWithItsLine) {
  auto e = parseFails("networks:\n  lan:\n    kind: nat\n    subnett: 10.7.0.0/24\nvms: {}\n");
  EXPECT_EQ(e.message,
            "site.yaml:4: networks.lan.subnett: unknown field 'subnett' (known: kind, subnet, "
            "dhcp_range, domain, description, uplink, port_groups, forwards, labels)");
  EXPECT_EQ(e.field, "networks.lan.subnett");
  EXPECT_THAT(
      parseFails("networks:\n  lan:\n    port_groups:\n      - {name: db, vlan: 20, tag: x}\n"
                 "vms: {}\n")
          .message,
      StartsWith("site.yaml:4: networks.lan.port_groups[0].tag: unknown field 'tag'"));
}

TEST(DirectoryFileNetworks, WrongKindsFormsAndValuesAreNamed) {
  EXPECT_EQ(parseFails("networks:\n  lan: {kind: vswitch}\nvms: {}\n").message,
            "site.yaml:2: networks.lan.kind: kind must be internal, nat, bridge or user (got "
            "'vswitch')");
  EXPECT_THAT(parseFails("networks:\n  lan:\n    kind: nat\n    forwards:\n      - tcp:80:web1\n"
                         "vms: {}\n")
                  .message,
              StartsWith("site.yaml:5: networks.lan.forwards[0]: forward 'tcp:80:web1' has the "
                         "wrong form"));
  EXPECT_EQ(parseFails("networks:\n  lan:\n    port_groups:\n      - name: db\n        vlan: 5000\n"
                       "vms: {}\n")
                .message,
            "site.yaml:5: networks.lan.port_groups[0].vlan: VLAN id 5000 is outside 1–4094");
  EXPECT_EQ(parseFails("networks:\n  seg: {kind: bridge}\nvms: {}\n").message,
            "site.yaml:2: networks.seg.uplink: a bridge network needs an uplink: the host "
            "interface to join");
  EXPECT_THAT(parseFails("networks:\n  Lan_1: {}\nvms: {}\n").message,
              StartsWith("site.yaml:2: networks.Lan_1: network name 'Lan_1' contains"));
  EXPECT_THAT(parseFails("networks: [lan]\nvms: {}\n").message,
              StartsWith("site.yaml:1: networks: expected a map"));
  EXPECT_THAT(
      parseFails("networks:\n  lan:\n    labels: {paddock.directory: x}\nvms: {}\n").message,
      StartsWith("site.yaml:3: networks.lan.labels.paddock.directory: label "));
}

TEST(DirectoryFile, ParseFileReadsFromDiskAndReportsAMissingFile) {
  std::string path = ::testing::TempDir() + "paddock-directory-test-lab.yaml";
  {
    std::ofstream out(path);
    out << "vms:\n  a:\n    image: tiny\n";
  }
  auto file = parseDirectoryFile(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->name, "paddock-directory-test-lab");
  EXPECT_EQ(file->vms.size(), 1u);
  std::remove(path.c_str());
  auto missing = parseDirectoryFile(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
}

TEST(ApplyRequest, RoundTripsThroughJson) {
  auto file = parseOk(kSite);
  json request = toApplyRequest(file, true);
  EXPECT_EQ(request["directory"], "lab");
  EXPECT_EQ(request["dry_run"], true);
  EXPECT_EQ(request["vms"][0]["state"], "running");
  EXPECT_TRUE(request["vms"][1]["state"].is_null());

  auto back = desiredFromApplyRequest(json::parse(request.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->name, "lab");
  EXPECT_FALSE(request.contains("networks"));  // the file has no networks: key
  EXPECT_FALSE(back->managesNetworks);
  EXPECT_TRUE(back->networks.empty());
  ASSERT_EQ(back->vms.size(), file.vms.size());
  for (size_t i = 0; i < file.vms.size(); ++i) {
    EXPECT_EQ(back->vms[i].spec, file.vms[i].spec);
    EXPECT_EQ(back->vms[i].state, file.vms[i].state);
  }
}

json minimalRequest() {
  return {{"directory", "lab"},
          {"vms", {{{"spec", {{"name", "a"}, {"image", "tiny"}}}, {"state", nullptr}}}}};
}

Error requestFails(const json& request) {
  auto r = desiredFromApplyRequest(request);
  EXPECT_FALSE(r.ok()) << "accepted: " << request.dump();
  if (r.ok()) return Error{};
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  return r.error();
}

TEST(ApplyRequest, AddsTheDirectoryLabelWhenMissing) {
  auto r = desiredFromApplyRequest(minimalRequest());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->vms.at(0).spec.labels.at("paddock.directory"), "lab");
  EXPECT_FALSE(r->vms.at(0).state.has_value());
}

TEST(ApplyRequest, StrictAboutUnknownFieldsTypesAndValues) {
  json j = minimalRequest();
  j["force"] = true;
  EXPECT_EQ(requestFails(j).field, "force");

  j = minimalRequest();
  j["vms"][0]["start"] = true;
  EXPECT_EQ(requestFails(j).field, "vms[0].start");

  j = minimalRequest();
  j["vms"][0]["spec"]["vcpus"] = "2";
  EXPECT_EQ(requestFails(j).field, "vms[0].spec.vcpus");

  j = minimalRequest();
  j["vms"][0]["spec"]["memory_mib"] = 8;
  EXPECT_EQ(requestFails(j).field, "vms[0].spec.memory_mib");

  j = minimalRequest();
  j["vms"][0]["state"] = "paused";
  EXPECT_EQ(requestFails(j).field, "vms[0].state");

  j = minimalRequest();
  j["dry_run"] = "yes";
  EXPECT_EQ(requestFails(j).field, "dry_run");

  j = minimalRequest();
  j.erase("directory");
  EXPECT_EQ(requestFails(j).field, "directory");
}

TEST(ApplyRequest, RefusesAForeignDirectoryLabelAndDuplicateNames) {
  json j = minimalRequest();
  j["vms"][0]["spec"]["labels"] = {{"paddock.directory", "other"}};
  EXPECT_EQ(requestFails(j).field, "vms[0].spec.labels.paddock.directory");

  j = minimalRequest();
  j["vms"].push_back(j["vms"][0]);
  auto e = requestFails(j);
  EXPECT_EQ(e.field, "vms[1].spec.name");
  EXPECT_THAT(e.message, HasSubstr("appears twice"));
}

TEST(ApplyRequest, CarriesNetworksAndRoundTripsThem) {
  auto file = parseOk(kNetworks);
  json request = toApplyRequest(file, false);
  ASSERT_EQ(request["networks"].size(), 4u);
  EXPECT_EQ(request["networks"][1]["dhcp_start"], "10.8.0.50");
  EXPECT_EQ(request["networks"][1]["labels"]["paddock.directory"], "lab");

  auto back = desiredFromApplyRequest(json::parse(request.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(back->managesNetworks);
  ASSERT_EQ(back->networks.size(), file.networks.size());
  for (size_t i = 0; i < file.networks.size(); ++i)
    EXPECT_EQ(back->networks[i].spec, file.networks[i].spec);
  EXPECT_EQ(back->vms.size(), 1u);
}

json networkRequest() {
  json j = minimalRequest();
  j["networks"] = {{{"name", "lan"}, {"kind", "nat"}, {"subnet", "10.7.0.0/24"}}};
  return j;
}

TEST(ApplyRequest, NetworksAreStrictLikeVms) {
  auto ok = desiredFromApplyRequest(networkRequest());
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->networks.at(0).spec.labels.at("paddock.directory"), "lab");

  json j = networkRequest();
  j["networks"][0]["subnet"] = "10.7.0.1/24";
  EXPECT_EQ(requestFails(j).field, "networks[0].subnet");

  j = networkRequest();
  j["networks"][0]["vlan"] = 3;
  EXPECT_EQ(requestFails(j).field, "networks[0].vlan");

  j = networkRequest();
  j["networks"][0]["subnet"] = 7;
  EXPECT_EQ(requestFails(j).field, "networks[0].subnet");

  j = networkRequest();
  j["networks"] = {{"name", "lan"}};
  EXPECT_EQ(requestFails(j).field, "networks");

  j = networkRequest();
  j["networks"][0]["labels"] = {{"paddock.directory", "other"}};
  EXPECT_EQ(requestFails(j).field, "networks[0].labels.paddock.directory");

  j = networkRequest();
  j["networks"].push_back(j["networks"][0]);
  auto e = requestFails(j);
  EXPECT_EQ(e.field, "networks[1].name");
  EXPECT_THAT(e.message, HasSubstr("appears twice"));
}

}  // namespace
}  // namespace paddock
