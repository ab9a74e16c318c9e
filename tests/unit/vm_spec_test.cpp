#include "model/vm_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace paddock {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

VmSpec valid() {
  VmSpec s;
  s.name = "web1";
  s.image = "tiny";
  s.disks = {{"root", 1024}};
  return s;
}

Error invalid(const VmSpec& s, const HostLimits* host = nullptr) {
  auto r = validateVmSpec(s, host);
  EXPECT_FALSE(r.ok()) << "accepted " << toJson(s).dump();
  return r.ok() ? Error{} : r.error();
}

TEST(ValidateVmSpec, AcceptsAMinimalImageVm) {
  EXPECT_TRUE(validateVmSpec(valid(), nullptr).ok());
}

TEST(ValidateVmSpec, NameWithSlashIsRefusedNamingTheCharacter) {
  VmSpec s = valid();
  s.name = "a/b";
  Error e = invalid(s);
  EXPECT_EQ(e.field, "name");
  EXPECT_EQ(e.code, Errc::invalid_argument);
  EXPECT_THAT(e.message, HasSubstr("contains '/'"));
}

TEST(ValidateVmSpec, NameWithSpaceIsRefused) {
  VmSpec s = valid();
  s.name = "a b";
  EXPECT_THAT(invalid(s).message, HasSubstr("contains a space"));
}

TEST(ValidateVmSpec, NameOf200CharactersIsRefused) {
  VmSpec s = valid();
  s.name = std::string(200, 'a');
  Error e = invalid(s);
  EXPECT_EQ(e.field, "name");
  EXPECT_THAT(e.message, HasSubstr("200 characters long (at most 63)"));
}

TEST(ValidateVmSpec, NameMustStartWithALetterAndNotEndWithADash) {
  VmSpec s = valid();
  s.name = "1web";
  EXPECT_EQ(invalid(s).field, "name");
  s.name = "web-";
  EXPECT_EQ(invalid(s).field, "name");
  s.name = "";
  EXPECT_EQ(invalid(s).field, "name");
}

TEST(ValidateVmSpec, MemoryBelow16MIsRefused) {
  VmSpec s = valid();
  s.memoryMib = 0;
  Error e = invalid(s);
  EXPECT_EQ(e.field, "memory_mib");
  EXPECT_EQ(e.message, "memory must be at least 16M (got 0M)");
  s.memoryMib = 16;
  EXPECT_TRUE(validateVmSpec(s, nullptr).ok());
}

TEST(ValidateVmSpec, ZeroOrNegativeVcpusAreRefused) {
  VmSpec s = valid();
  s.vcpus = 0;
  EXPECT_EQ(invalid(s).field, "vcpus");
  s.vcpus = -1;
  EXPECT_EQ(invalid(s).field, "vcpus");
}

TEST(ValidateVmSpec, MoreVcpusOrMemoryThanTheHostIsUnprocessable) {
  HostLimits host{4, 8192};
  VmSpec s = valid();
  s.vcpus = 8;
  Error e = invalid(s, &host);
  EXPECT_EQ(e.code, Errc::unprocessable);
  EXPECT_EQ(e.field, "vcpus");
  s.vcpus = 4;
  s.memoryMib = 16384;
  e = invalid(s, &host);
  EXPECT_EQ(e.code, Errc::unprocessable);
  EXPECT_EQ(e.field, "memory_mib");
  s.memoryMib = 8192;
  EXPECT_TRUE(validateVmSpec(s, &host).ok());
}

TEST(ValidateVmSpec, DuplicateDiskNamesNameTheSecondDisk) {
  VmSpec s = valid();
  s.disks = {{"root", 1024}, {"data", 10}, {"root", 2048}};
  Error e = invalid(s);
  EXPECT_EQ(e.field, "disks[2].name");
  EXPECT_THAT(e.message, HasSubstr("'root' is used twice"));
}

TEST(ValidateVmSpec, ZeroSizeDiskIsRefused) {
  VmSpec s = valid();
  s.disks = {{"root", 0}};
  EXPECT_EQ(invalid(s).field, "disks[0].size_mib");
}

TEST(ValidateVmSpec, NeedsExactlyOneOfImageAndKernel) {
  VmSpec s = valid();
  s.image.clear();
  EXPECT_EQ(invalid(s).field, "image");
  s.image = "tiny";
  s.kernel = "/boot/vmlinuz";
  EXPECT_EQ(invalid(s).field, "kernel");
  s.image.clear();
  EXPECT_TRUE(validateVmSpec(s, nullptr).ok());
}

TEST(ValidateVmSpec, KernelAndInitrdMustBeAbsolutePaths) {
  VmSpec s = valid();
  s.image.clear();
  s.kernel = "vmlinuz";
  EXPECT_EQ(invalid(s).field, "kernel");
  s.kernel = "/boot/vmlinuz";
  s.initrd = "initrd.img";
  EXPECT_EQ(invalid(s).field, "initrd");
}

TEST(VmSpecFromJson, RoundTripsThroughToJson) {
  VmSpec s = valid();
  s.vcpus = 2;
  s.memoryMib = 1024;
  s.cmdline = "console=ttyS0";
  s.description = "front end";
  s.accel = Accel::tcg;
  s.labels = {{"tier", "web"}};
  auto back = vmSpecFromJson(toJson(s));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, s);
}

Error fromJsonFails(const json& j) {
  auto r = vmSpecFromJson(j);
  EXPECT_FALSE(r.ok()) << "accepted " << j.dump();
  if (r.ok()) return Error{};
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  return r.error();
}

TEST(VmSpecFromJson, UnknownFieldIsNamed) {
  Error e = fromJsonFails({{"name", "a"}, {"colour", "blue"}});
  EXPECT_EQ(e.field, "colour");
  EXPECT_THAT(e.message, HasSubstr("unknown field 'colour'"));
}

TEST(VmSpecFromJson, WrongTypeIsNamed) {
  Error e = fromJsonFails({{"name", "a"}, {"vcpus", "2"}});
  EXPECT_EQ(e.field, "vcpus");
  EXPECT_THAT(e.message, HasSubstr("must be an integer"));
  EXPECT_EQ(fromJsonFails({{"name", "a"}, {"vcpus", 1.5}}).field, "vcpus");
  EXPECT_EQ(fromJsonFails({{"name", 7}}).field, "name");
  EXPECT_EQ(fromJsonFails({{"name", "a"}, {"disks", json::object()}}).field, "disks");
  EXPECT_EQ(fromJsonFails({{"name", "a"}, {"disks", json::array({5})}}).field, "disks[0]");
  EXPECT_EQ(fromJsonFails({{"name", "a"}, {"labels", {{"tier", 1}}}}).field, "labels.tier");
  EXPECT_EQ(fromJsonFails({{"name", "a"}, {"accel", "hvf"}}).field, "accel");
}

TEST(VmSpecFromJson, UnknownDiskFieldIsNamedWithItsIndex) {
  json disk = {{"name", "root"}, {"size", 1}};
  Error e = fromJsonFails({{"name", "a"}, {"disks", json::array({disk})}});
  EXPECT_EQ(e.field, "disks[0].size");
}

TEST(VmSpecFromJson, ZeroOrNegativeMemoryIsRefused) {
  EXPECT_EQ(fromJsonFails({{"name", "a"}, {"memory_mib", 0}}).field, "memory_mib");
  EXPECT_EQ(fromJsonFails({{"name", "a"}, {"memory_mib", -5}}).field, "memory_mib");
}

TEST(VmSpecFromJson, MissingNameAndNonObjectAreRefused) {
  EXPECT_EQ(fromJsonFails({{"image", "tiny"}}).field, "name");
  EXPECT_EQ(fromJsonFails(json::array()).field, "");
}

TEST(ApplyVmPatch, RefusesRenameAndLeavesTheSpecUntouchedOnError) {
  VmSpec s = valid();
  EXPECT_EQ(applyVmPatch(s, {{"name", "b"}}).error().field, "name");
  EXPECT_FALSE(applyVmPatch(s, {{"vcpus", 2}, {"bogus", 1}}).ok());
  EXPECT_EQ(s, valid());
  EXPECT_TRUE(applyVmPatch(s, {{"vcpus", 2}}).ok());
  EXPECT_EQ(s.vcpus, 2);
}

}  // namespace
}  // namespace paddock
