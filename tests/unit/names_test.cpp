#include <gtest/gtest.h>

#include "common/names.h"

namespace paddock {
namespace {

TEST(NameRange, PlainNameIsItself) {
  auto names = expandNameRange("web");
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, std::vector<std::string>{"web"});
}

TEST(NameRange, ExpandsInclusiveRangeWithPrefixAndSuffix) {
  auto names = expandNameRange("web[1-3]-a");
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"web1-a", "web2-a", "web3-a"}));
  auto twenty = expandNameRange("web[1-20]");
  ASSERT_TRUE(twenty);
  ASSERT_EQ(twenty->size(), 20u);
  EXPECT_EQ(twenty->back(), "web20");
}

TEST(NameRange, LeadingZeroKeepsWidth) {
  auto names = expandNameRange("db[08-10]");
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"db08", "db09", "db10"}));
}

TEST(NameRange, RefusesMalformedRanges) {
  for (const char* bad : {"web[1-", "web1-3]", "web[3-1]", "web[a-3]", "web[1-3][1-2]", "web[]",
                          "web[13]", "web[1-5000]"}) {
    auto names = expandNameRange(bad);
    ASSERT_FALSE(names) << bad;
    EXPECT_EQ(names.error().code, Errc::invalid_argument);
    EXPECT_NE(names.error().message.find(bad), std::string::npos) << names.error().message;
  }
}

}  // namespace
}  // namespace paddock
