// The tiny image is cached: a build with an unchanged recipe does nothing, a changed recipe makes
// the image out of date and the next build makes it again.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/files.h"
#include "integration/harness.h"

namespace paddock::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(ImageCache, AnUnchangedRecipeIsNotRebuiltAndAChangedOneIs) {
  // A private copy of the recipe and of the built image, so the shared ones stay as they are.
  std::string tmp = fs::temp_directory_path() / ("paddock-image-cache-" + std::to_string(getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp + "/data/guest");
  fs::create_directories(tmp + "/images");
  fs::copy(std::string(PADDOCK_SOURCE_DIR) + "/guest/tiny", tmp + "/data/guest/tiny",
           fs::copy_options::recursive);
  fs::copy(imageDir() + "/tiny", tmp + "/images/tiny", fs::copy_options::recursive);
  setenv("PADDOCK_DATA_DIR", (tmp + "/data").c_str(), 1);
  TestDaemon d({"--image-dir", tmp + "/images"});
  unsetenv("PADDOCK_DATA_DIR");

  auto before = d.api().call("GET", "/v1/images/tiny").value();
  ASSERT_TRUE(before.value("up_to_date", false)) << before.dump();
  auto again = d.cli({"image", "build", "tiny"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE((again.out + again.err).find("up to date"), std::string::npos) << again.out;
  EXPECT_EQ(d.api().call("GET", "/v1/images/tiny").value()["built_at"], before["built_at"]);

  // A changed init script is a changed recipe.
  std::ofstream(tmp + "/data/guest/tiny/init", std::ios::app) << "\n# changed by ImageCache test\n";
  auto stale = d.api().call("GET", "/v1/images/tiny").value();
  EXPECT_FALSE(stale.value("up_to_date", true)) << stale.dump();
  EXPECT_NE(stale["recipe_hash"], before["recipe_hash"]);
  auto rebuilt = d.cli({"image", "build", "tiny"});
  ASSERT_EQ(rebuilt.code, 0) << rebuilt.err;
  auto after = d.api().call("GET", "/v1/images/tiny").value();
  EXPECT_TRUE(after.value("up_to_date", false)) << after.dump();
  EXPECT_NE(after["built_at"], before["built_at"]);
  // The rebuilt image boots.
  d.createVm("fresh", {{"memory_mib", 128}});
  d.startVm("fresh");
  EXPECT_EQ(d.vm("fresh")["state"], "running");
  d.forceStopAll();
  d.stop();
  fs::remove_all(tmp);
}

}  // namespace
}  // namespace paddock::test
