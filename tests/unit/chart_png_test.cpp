#include "cli/chart_png.h"

#include <png.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "cli/chart_file.h"
#include "cli/chart_svg.h"

namespace paddock::cli {
namespace {

using namespace std::chrono;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kPngSignature = "\x89PNG\r\n\x1a\n";

// The first series' colour in chart_svg.cpp's palette.
constexpr int kLineRed = 0x00, kLineGreen = 0x72, kLineBlue = 0xB2;

// 2024-05-01 12:00:00 UTC.
const int64_t kNoonMs =
    duration_cast<milliseconds>((sys_days{year{2024} / May / 1} + hours{12}).time_since_epoch())
        .count();

uint32_t bigEndian32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

// The PNG as libpng decodes it, as 8-bit RGB.
struct Image {
  bool ok = false;
  std::string error;
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;

  struct Pixel {
    int r, g, b;
  };
  Pixel at(int x, int y) const {
    size_t i = 3 * (static_cast<size_t>(y) * static_cast<size_t>(width) + static_cast<size_t>(x));
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
  // Pixels in [x0, x1) × [y0, y1) that `match`.
  template <typename F>
  int count(int x0, int y0, int x1, int y1, F match) const {
    int n = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) n += match(at(x, y)) ? 1 : 0;
    return n;
  }
};

Image decode(const std::string& png) {
  Image image;
  png_image p{};
  p.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&p, png.data(), png.size())) {
    image.error = p.message;
    return image;
  }
  p.format = PNG_FORMAT_RGB;
  image.width = static_cast<int>(p.width);
  image.height = static_cast<int>(p.height);
  image.rgb.resize(PNG_IMAGE_SIZE(p));
  image.ok = png_image_finish_read(&p, nullptr, image.rgb.data(), 0, nullptr) != 0;
  if (!image.ok) image.error = p.message;
  png_image_free(&p);
  return image;
}

// Antialiasing blends a 1.5 px line's edges into the white, so "its colour" has some slack.
bool isLineColour(const Image::Pixel& p) {
  return std::abs(p.r - kLineRed) <= 40 && std::abs(p.g - kLineGreen) <= 40 &&
         std::abs(p.b - kLineBlue) <= 40;
}
bool isWhite(const Image::Pixel& p) {
  return p.r == 255 && p.g == 255 && p.b == 255;
}
bool isDark(const Image::Pixel& p) {
  return p.r < 128 && p.g < 128 && p.b < 128;
}

ChartOptions options() {
  ChartOptions o;
  o.title = "web1 — cpu_percent (last 1h)";
  o.unit = "%";
  o.yMax = 100;
  return o;
}

// An hour of samples every 10 s from noon, swinging between 10% and 90%.
ChartSeries anHour() {
  ChartSeries s;
  s.label = "vcpu0";
  for (int i = 0; i <= 360; ++i)
    s.points.push_back({kNoonMs + int64_t{i} * 10'000, i % 60 < 30 ? 10.0 + i % 30 * 2.7 : 90.0});
  return s;
}

std::string pngOf(const std::vector<ChartSeries>& series, const ChartOptions& o) {
  auto png = renderChart(series, o, ChartFormat::png);
  EXPECT_TRUE(png.ok()) << (png.ok() ? "" : png.error().message);
  return png.ok() ? *png : std::string();
}

TEST(ChartPng, IsAPngOfTheChartsSize) {
  std::string png = pngOf({anHour()}, options());
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), kPngSignature);
  // The first chunk is IHDR: length 13, type, then width and height big-endian.
  EXPECT_EQ(bigEndian32(png, 8), 13u);
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(bigEndian32(png, 16), 800u);
  EXPECT_EQ(bigEndian32(png, 20), 300u);
  Image image = decode(png);
  ASSERT_TRUE(image.ok) << image.error;
  EXPECT_EQ(image.width, 800);
  EXPECT_EQ(image.height, 300);
}

TEST(ChartPng, ShowsTheLineInItsColourAndTheTitleOnWhite) {
  Image image = decode(pngOf({anHour()}, options()));
  ASSERT_TRUE(image.ok) << image.error;
  EXPECT_TRUE(isWhite(image.at(0, 0)));
  EXPECT_TRUE(isWhite(image.at(799, 299)));
  // Below the legend, whose swatch has the line's colour too.
  EXPECT_GT(image.count(0, 60, 800, 300, isLineColour), 500);
  // The title's glyphs: text is rendered, so a font was found.
  EXPECT_GT(image.count(200, 0, 600, 25, isDark), 100);
}

TEST(ChartPng, DataInTheLastFiveMinutesOfTheWindowIsDrawnOnlyAtTheRight) {
  ChartSeries s = anHour();
  std::erase_if(s.points, [](const ChartPoint& p) { return p.tsMs < kNoonMs + 55 * 60'000; });
  ChartOptions o = options();
  o.window = TimeWindow{kNoonMs, kNoonMs + 3'600'000};
  Image image = decode(pngOf({s}, o));
  ASSERT_TRUE(image.ok) << image.error;
  // The plot runs from x≈44 to 780, so 12:55 sits at x≈719.
  EXPECT_EQ(image.count(0, 60, 700, 300, isLineColour), 0);
  EXPECT_GT(image.count(700, 60, 800, 300, isLineColour), 50);
}

TEST(ChartPng, RendersTheSameSvgAtAnyPixelSize) {
  std::string svg = renderSvgChart({anHour()}, options());
  auto png = rasterizeSvg(svg, 1600, 600);
  ASSERT_TRUE(png.ok()) << png.error().message;
  EXPECT_EQ(bigEndian32(*png, 16), 1600u);
  EXPECT_EQ(bigEndian32(*png, 20), 600u);
  Image image = decode(*png);
  ASSERT_TRUE(image.ok) << image.error;
  EXPECT_GT(image.count(0, 120, 1600, 600, isLineColour), 1000);
}

TEST(ChartPng, NoDataIsStillAReadableImage) {
  Image image = decode(pngOf({}, options()));
  ASSERT_TRUE(image.ok) << image.error;
  EXPECT_GT(image.count(300, 130, 500, 180, isDark), 20);
}

TEST(ChartPng, AnSvgThatDoesNotParseIsAnInvalidArgument) {
  auto png = rasterizeSvg("<svg xmlns=\"http://www.w3.org/2000/svg\"><rect", 800, 300);
  ASSERT_FALSE(png.ok());
  EXPECT_EQ(png.error().code, Errc::invalid_argument);
  EXPECT_THAT(png.error().message, StartsWith("cannot read the chart's SVG"));
}

TEST(ChartPng, ASizeOutsideTheLimitsIsRefused) {
  std::string svg = renderSvgChart({anHour()}, options());
  for (auto [w, h] : {std::pair{0, 300}, std::pair{800, -1}, std::pair{16385, 300}}) {
    auto png = rasterizeSvg(svg, w, h);
    ASSERT_FALSE(png.ok()) << w << "x" << h;
    EXPECT_EQ(png.error().code, Errc::invalid_argument);
    EXPECT_THAT(png.error().message, HasSubstr("pixels"));
  }
}

}  // namespace
}  // namespace paddock::cli
