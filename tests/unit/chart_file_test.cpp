#include "cli/chart_file.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace paddock::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ChartFile, TheExtensionChoosesTheFormatInAnyCase) {
  EXPECT_EQ(*chartFormatFor("cpu.svg", ""), ChartFormat::svg);
  EXPECT_EQ(*chartFormatFor("cpu.png", ""), ChartFormat::png);
  EXPECT_EQ(*chartFormatFor("/tmp/charts.d/CPU.PNG", ""), ChartFormat::png);
  EXPECT_EQ(*chartFormatFor("web1.cpu.Svg", ""), ChartFormat::svg);
}

TEST(ChartFile, AnUnknownExtensionIsAOneLineErrorNamingIt) {
  auto f = chartFormatFor("cpu.jpg", "");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, Errc::invalid_argument);
  EXPECT_EQ(f.error().field, "output");
  EXPECT_THAT(f.error().message, HasSubstr("'.jpg'"));
  EXPECT_THAT(f.error().message, HasSubstr("cpu.jpg"));
  EXPECT_THAT(f.error().message, Not(HasSubstr("\n")));
}

TEST(ChartFile, NoExtensionAndNoFormatIsAnError) {
  for (const char* path : {"cpu", "charts.d/cpu", ".png"}) {
    auto f = chartFormatFor(path, "");
    ASSERT_FALSE(f.ok()) << path;
    EXPECT_THAT(f.error().message, HasSubstr("no extension")) << path;
  }
}

TEST(ChartFile, TheFormatFlagServesAFileWithAnyOtherExtensionOrNone) {
  EXPECT_EQ(*chartFormatFor("cpu", "png"), ChartFormat::png);
  EXPECT_EQ(*chartFormatFor("cpu.out", "svg"), ChartFormat::svg);
  EXPECT_EQ(*chartFormatFor("cpu.png", "png"), ChartFormat::png);
}

TEST(ChartFile, AFormatFlagContradictingTheExtensionIsRefused) {
  auto f = chartFormatFor("cpu.svg", "png");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().field, "format");
  EXPECT_THAT(f.error().message, HasSubstr("cpu.svg"));
}

TEST(ChartFile, AnUnknownFormatIsRefused) {
  auto f = chartFormatFor("cpu.gif", "gif");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("'gif'"));
}

TEST(ChartFile, TheSvgFormatIsTheSvgChartItself) {
  ChartOptions o;
  o.title = "web1";
  std::vector<ChartSeries> series = {{"vcpu0", {{0, 1}, {10'000, 2}}}};
  auto svg = renderChart(series, o, ChartFormat::svg);
  ASSERT_TRUE(svg.ok());
  EXPECT_EQ(*svg, renderSvgChart(series, o));
}

}  // namespace
}  // namespace paddock::cli
