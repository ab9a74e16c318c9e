#include "common/units.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace paddock {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

uint64_t sizeOk(std::string_view text) {
  auto r = parseSizeMib(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : 0;
}

std::string sizeError(std::string_view text) {
  auto r = parseSizeMib(text);
  EXPECT_FALSE(r.ok()) << "accepted " << text;
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  return r.error().message;
}

TEST(ParseSizeMib, BareNumberMeansMib) {
  EXPECT_EQ(sizeOk("512"), 512u);
  EXPECT_EQ(sizeOk("1"), 1u);
}

TEST(ParseSizeMib, BinarySuffixesScaleInAnySpelling) {
  EXPECT_EQ(sizeOk("512M"), 512u);
  EXPECT_EQ(sizeOk("2G"), 2048u);
  EXPECT_EQ(sizeOk("2g"), 2048u);
  EXPECT_EQ(sizeOk("1GiB"), 1024u);
  EXPECT_EQ(sizeOk("1GB"), 1024u);
  EXPECT_EQ(sizeOk("1T"), 1024u * 1024u);
  EXPECT_EQ(sizeOk("2048K"), 2u);
}

TEST(ParseSizeMib, FractionsThatAreWholeMibAreAccepted) {
  EXPECT_EQ(sizeOk("1.5G"), 1536u);
  EXPECT_EQ(sizeOk(".5G"), 512u);
}

TEST(ParseSizeMib, ZeroParsesAndIsLeftToTheCallerToJudge) {
  EXPECT_EQ(sizeOk("0"), 0u);
}

TEST(ParseSizeMib, NegativeIsRefused) {
  EXPECT_THAT(sizeError("-1"), HasSubstr("negative"));
}

TEST(ParseSizeMib, PartialMibIsRefused) {
  EXPECT_THAT(sizeError("1K"), HasSubstr("not a whole number of MiB"));
  EXPECT_THAT(sizeError("0.5M"), HasSubstr("not a whole number of MiB"));
}

TEST(ParseSizeMib, UnknownUnitIsRefused) {
  EXPECT_THAT(sizeError("12Q"), HasSubstr("unknown unit"));
  EXPECT_THAT(sizeError("1e3"), HasSubstr("unknown unit"));
}

TEST(ParseSizeMib, NonNumbersAndHugeValuesAreRefused) {
  EXPECT_THAT(sizeError(""), HasSubstr("is not a size"));
  EXPECT_THAT(sizeError("G"), HasSubstr("is not a size"));
  EXPECT_THAT(sizeError("abc"), HasSubstr("is not a size"));
  EXPECT_THAT(sizeError("1.2.3G"), HasSubstr("is not a size"));
  EXPECT_THAT(sizeError("99999999999999999999"), HasSubstr("too large"));
}

TEST(FormatMib, UsesTheLargestWholeUnit) {
  EXPECT_EQ(formatMib(0), "0M");
  EXPECT_EQ(formatMib(512), "512M");
  EXPECT_EQ(formatMib(1024), "1G");
  EXPECT_EQ(formatMib(1536), "1.5G");
  EXPECT_EQ(formatMib(1024 * 1024), "1T");
  EXPECT_EQ(formatMib(3 * 1024 * 1024), "3T");
}

TEST(ParseRate, BareNumberIsPerSecondAndSuffixesAreBinary) {
  EXPECT_EQ(*parseRate("200"), 200u);
  EXPECT_EQ(*parseRate("0"), 0u);
  EXPECT_EQ(*parseRate("2k"), 2048u);
  EXPECT_EQ(*parseRate("1M"), 1048576u);
  EXPECT_EQ(*parseRate("3g"), 3u * 1024 * 1024 * 1024);
}

TEST(ParseRate, FractionsNegativesAndOtherUnitsAreRefused) {
  for (const char* text : {"", "M", "-1", "1.5M", "1T", "1MB", "abc", "1234567890123"}) {
    auto r = parseRate(text);
    ASSERT_FALSE(r.ok()) << "accepted " << text;
    EXPECT_THAT(r.error().message, HasSubstr("is not a rate (use e.g. 1M or 200)"));
  }
}

TEST(ParseDuration, BareNumberMeansSeconds) {
  EXPECT_EQ(*parseDuration("90"), 90'000ms);
  EXPECT_EQ(*parseDuration("0"), 0ms);
}

TEST(ParseDuration, SuffixesScale) {
  EXPECT_EQ(*parseDuration("30s"), 30'000ms);
  EXPECT_EQ(*parseDuration("500ms"), 500ms);
  EXPECT_EQ(*parseDuration("2m"), 120'000ms);
  EXPECT_EQ(*parseDuration("1h"), 3'600'000ms);
  EXPECT_EQ(*parseDuration("1.5s"), 1'500ms);
}

TEST(ParseDuration, NegativeUnknownUnitAndEmptyAreRefused) {
  auto neg = parseDuration("-1");
  ASSERT_FALSE(neg.ok());
  EXPECT_THAT(neg.error().message, HasSubstr("negative"));
  auto unit = parseDuration("12Q");
  ASSERT_FALSE(unit.ok());
  EXPECT_THAT(unit.error().message, HasSubstr("unknown unit"));
  EXPECT_FALSE(parseDuration("").ok());
  EXPECT_FALSE(parseDuration("1d").ok());
  EXPECT_FALSE(parseDuration("s").ok());
}

}  // namespace
}  // namespace paddock
