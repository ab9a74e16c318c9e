#include "cli/chart_svg.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <expat.h>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace paddock::cli {
namespace {

using namespace std::chrono;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string text;
};

// The document as a real XML parser (expat) sees it: every element in document order.
struct ParsedSvg {
  bool wellFormed = false;
  std::string error;
  std::vector<Element> elements;

  std::vector<const Element*> all(const std::string& name) const {
    std::vector<const Element*> found;
    for (const auto& e : elements)
      if (e.name == name) found.push_back(&e);
    return found;
  }
  std::vector<std::string> texts() const {
    std::vector<std::string> found;
    for (const auto* e : all("text")) found.push_back(e->text);
    return found;
  }
};

struct ParseState {
  ParsedSvg* out;
  std::vector<size_t> open;
};

ParsedSvg parse(const std::string& svg) {
  ParsedSvg parsed;
  ParseState state{&parsed, {}};
  XML_Parser parser = XML_ParserCreate("UTF-8");
  XML_SetUserData(parser, &state);
  XML_SetElementHandler(
      parser,
      [](void* data, const XML_Char* name, const XML_Char** attributes) {
        auto* s = static_cast<ParseState*>(data);
        Element e;
        e.name = name;
        for (size_t i = 0; attributes[i]; i += 2) e.attributes[attributes[i]] = attributes[i + 1];
        s->open.push_back(s->out->elements.size());
        s->out->elements.push_back(std::move(e));
      },
      [](void* data, const XML_Char*) { static_cast<ParseState*>(data)->open.pop_back(); });
  XML_SetCharacterDataHandler(parser, [](void* data, const XML_Char* text, int len) {
    auto* s = static_cast<ParseState*>(data);
    if (!s->open.empty()) s->out->elements[s->open.back()].text.append(text, len);
  });
  parsed.wellFormed =
      XML_Parse(parser, svg.data(), static_cast<int>(svg.size()), XML_TRUE) == XML_STATUS_OK;
  if (!parsed.wellFormed)
    parsed.error = std::string(XML_ErrorString(XML_GetErrorCode(parser))) + " at line " +
                   std::to_string(XML_GetCurrentLineNumber(parser));
  XML_ParserFree(parser);
  return parsed;
}

ParsedSvg parseOk(const std::string& svg) {
  ParsedSvg parsed = parse(svg);
  EXPECT_TRUE(parsed.wellFormed) << parsed.error << "\n" << svg;
  return parsed;
}

// 2024-05-01 12:00:00 UTC.
const int64_t kNoonMs =
    duration_cast<milliseconds>((sys_days{year{2024} / May / 1} + hours{12}).time_since_epoch())
        .count();

// One sample every `stepS` seconds for `durationS` seconds from noon, value from `f(i)`.
template <typename F>
ChartSeries sampled(std::string label, int durationS, int stepS, F f) {
  ChartSeries s;
  s.label = std::move(label);
  for (int i = 0; i * stepS <= durationS; ++i)
    s.points.push_back({kNoonMs + int64_t{i} * stepS * 1000, static_cast<double>(f(i))});
  return s;
}

ChartOptions options(std::string unit, std::string title = "web1 — cpu_percent (last 1 h)") {
  ChartOptions o;
  o.title = std::move(title);
  o.unit = std::move(unit);
  return o;
}

TEST(ChartSvg, IsAStandaloneSvgDocumentOnAWhiteBackground) {
  auto svg =
      renderSvgChart({sampled("vcpu0", 3600, 10, [](int i) { return i % 50; })}, options("%"));
  auto doc = parseOk(svg);
  ASSERT_FALSE(doc.elements.empty());
  const Element& root = doc.elements.front();
  EXPECT_EQ(root.name, "svg");
  EXPECT_EQ(root.attributes.at("xmlns"), "http://www.w3.org/2000/svg");
  EXPECT_EQ(root.attributes.at("version"), "1.1");
  EXPECT_EQ(root.attributes.at("viewBox"), "0 0 800 300");
  auto rects = doc.all("rect");
  ASSERT_FALSE(rects.empty());
  EXPECT_EQ(rects.front()->attributes.at("fill"), "#ffffff");
  EXPECT_THAT(doc.texts(), Contains("web1 — cpu_percent (last 1 h)"));
}

TEST(ChartSvg, DrawsOneLinePerSeriesInDistinctColoursWithALegend) {
  std::vector<ChartSeries> series;
  for (int v = 0; v < 4; ++v)
    series.push_back(sampled(fmt::format("vcpu{}", v), 600, 10, [v](int i) { return v * 10 + i; }));
  auto doc = parseOk(renderSvgChart(series, options("%")));
  auto lines = doc.all("polyline");
  ASSERT_EQ(lines.size(), 4u);
  std::vector<std::string> colours;
  for (const auto* l : lines) colours.push_back(l->attributes.at("stroke"));
  std::sort(colours.begin(), colours.end());
  EXPECT_EQ(std::unique(colours.begin(), colours.end()), colours.end());
  EXPECT_THAT(doc.texts(), IsSupersetOf({"vcpu0", "vcpu1", "vcpu2", "vcpu3"}));
}

TEST(ChartSvg, AGapLongerThanThreeSampleSpacingsBreaksTheLine) {
  auto s = sampled("read", 3600, 10, [](int i) { return i; });
  std::erase_if(s.points, [](const ChartPoint& p) {
    return p.tsMs > kNoonMs + 600'000 && p.tsMs < kNoonMs + 1'200'000;
  });
  auto steady = sampled("write", 3600, 10, [](int i) { return i; });
  auto doc = parseOk(renderSvgChart({s, steady}, options("B/s")));
  EXPECT_EQ(doc.all("polyline").size(), 3u);
}

TEST(ChartSvg, NanAndInfiniteValuesAreSkipped) {
  auto s = sampled("vcpu0", 100, 10, [](int i) { return i; });
  s.points[3].value = std::numeric_limits<double>::quiet_NaN();
  s.points[5].value = std::numeric_limits<double>::infinity();
  auto svg = renderSvgChart({s}, options("%"));
  EXPECT_THAT(svg, Not(HasSubstr("nan")));
  EXPECT_THAT(svg, Not(HasSubstr("inf")));
  auto doc = parseOk(svg);
  auto lines = doc.all("polyline");
  ASSERT_EQ(lines.size(), 1u);
  const std::string& points = lines[0]->attributes.at("points");
  EXPECT_EQ(std::count(points.begin(), points.end(), ','), 9) << points;
}

TEST(ChartSvg, ByteTicksUseBinaryPrefixes) {
  auto s = sampled("rss", 3600, 60, [](int i) { return (900 << 20) * (i % 2); });
  auto doc = parseOk(renderSvgChart({s}, options("bytes")));
  EXPECT_THAT(doc.texts(), IsSupersetOf({"0 B", "256 MiB", "512 MiB", "768 MiB", "1 GiB"}));
}

TEST(ChartSvg, RateTicksUseDecimalPrefixes) {
  auto s = sampled("read", 3600, 60, [](int i) { return 1.4e6 * (i % 2); });
  auto doc = parseOk(renderSvgChart({s}, options("B/s")));
  EXPECT_THAT(doc.texts(), IsSupersetOf({"250 kB/s", "1 MB/s", "1.25 MB/s", "1.5 MB/s"}));
}

TEST(ChartSvg, YMaxSetsTheTopWhenTheDataStaysBelowIt) {
  auto o = options("%");
  o.yMax = 100;
  auto doc = parseOk(renderSvgChart({sampled("vcpu0", 600, 10, [](int) { return 37; })}, o));
  EXPECT_THAT(doc.texts(), IsSupersetOf({"0%", "20%", "40%", "60%", "80%", "100%"}));
  EXPECT_THAT(doc.texts(), Not(Contains("120%")));
}

TEST(ChartSvg, LabelsAndTitleAreXmlEscaped) {
  auto s = sampled(R"(a<b&"c")", 600, 10, [](int i) { return i; });
  auto svg = renderSvgChart({s}, options("%", "<script>&'"));
  EXPECT_THAT(svg, HasSubstr("a&lt;b&amp;&quot;c&quot;"));
  auto doc = parseOk(svg);
  EXPECT_THAT(doc.texts(), Contains(R"(a<b&"c")"));
  EXPECT_THAT(doc.texts(), Contains("<script>&'"));
  EXPECT_TRUE(doc.all("script").empty());
}

TEST(ChartSvg, InvalidUtf8AndControlCharactersInALabelKeepTheDocumentWellFormed) {
  auto s = sampled(std::string("disk\xff\x01\xc3"), 600, 10, [](int i) { return i; });
  parseOk(renderSvgChart({s}, options("B/s")));
}

TEST(ChartSvg, NoSeriesSaysNoData) {
  auto doc = parseOk(renderSvgChart({}, options("%")));
  EXPECT_THAT(doc.texts(), Contains("no data"));
  EXPECT_TRUE(doc.all("polyline").empty());
}

TEST(ChartSvg, SeriesWithoutFiniteValuesSayNoData) {
  ChartSeries s;
  s.label = "vcpu0";
  s.points = {{kNoonMs, std::nan("")}};
  auto doc = parseOk(renderSvgChart({s}, options("%")));
  EXPECT_THAT(doc.texts(), Contains("no data"));
}

TEST(ChartSvg, AnHourSpanHasQuarterHourTicksInUtc) {
  auto doc = parseOk(
      renderSvgChart({sampled("vcpu0", 3600, 10, [](int i) { return i % 7; })}, options("%")));
  EXPECT_THAT(doc.texts(), IsSupersetOf({"12:00", "12:15", "12:30", "12:45", "13:00", "UTC"}));
  EXPECT_THAT(doc.texts(), Not(Contains("12:05")));
}

TEST(ChartSvg, ASpanOfDaysIsLabelledWithDates) {
  auto doc = parseOk(renderSvgChart(
      {sampled("vcpu0", 30 * 86400, 3600, [](int i) { return i % 24; })}, options("%")));
  EXPECT_THAT(doc.texts(), Contains("05-02"));
}

TEST(ChartSvg, ASingleSampleIsDrawnAsADot) {
  ChartSeries s;
  s.label = "vcpu0";
  s.points = {{kNoonMs, 42}};
  auto doc = parseOk(renderSvgChart({s}, options("%")));
  EXPECT_EQ(doc.all("polyline").size(), 1u);
}

struct PlotBox {
  double left = 0, top = 0, bottom = 0, right = 0;
};

// The plot area, read back from the axis lines ("M left,top V bottom H right").
PlotBox plotBoxOf(const ParsedSvg& doc) {
  PlotBox box;
  for (const auto* path : doc.all("path"))
    if (std::sscanf(path->attributes.at("d").c_str(), "M%lf,%lf V%lf H%lf", &box.left, &box.top,
                    &box.bottom, &box.right) == 4)
      return box;
  ADD_FAILURE() << "no axis path";
  return box;
}

std::vector<double> xsOf(const Element& polyline) {
  std::vector<double> xs;
  std::istringstream points(polyline.attributes.at("points"));
  double x = 0, y = 0;
  char comma = 0;
  while (points >> x >> comma >> y) xs.push_back(x);
  return xs;
}

// The last five minutes of the hour from noon, one sample every 10 s.
ChartSeries lastFiveMinutes() {
  ChartSeries s = sampled("vcpu0", 300, 10, [](int i) { return 20 + i % 5; });
  for (auto& p : s.points) p.tsMs += 55 * 60'000;
  return s;
}

TEST(ChartSvg, AWindowSpansTheWholeXAxisWithTheDataInItsPart) {
  auto o = options("%");
  o.window = TimeWindow{kNoonMs, kNoonMs + 3'600'000};
  auto doc = parseOk(renderSvgChart({lastFiveMinutes()}, o));
  PlotBox plot = plotBoxOf(doc);
  auto lines = doc.all("polyline");
  ASSERT_EQ(lines.size(), 1u);
  auto xs = xsOf(*lines[0]);
  ASSERT_EQ(xs.size(), 31u);
  double width = plot.right - plot.left;
  EXPECT_NEAR(*std::min_element(xs.begin(), xs.end()), plot.left + width * 55 / 60, 0.1);
  EXPECT_NEAR(*std::max_element(xs.begin(), xs.end()), plot.right, 0.1);
  EXPECT_THAT(doc.texts(), IsSupersetOf({"12:00", "12:15", "12:30", "12:45", "13:00"}));
}

TEST(ChartSvg, WithoutAWindowTheXAxisSpansTheData) {
  auto doc = parseOk(renderSvgChart({lastFiveMinutes()}, options("%")));
  PlotBox plot = plotBoxOf(doc);
  auto xs = xsOf(*doc.all("polyline").at(0));
  EXPECT_NEAR(*std::min_element(xs.begin(), xs.end()), plot.left, 0.1);
  EXPECT_THAT(doc.texts(), Not(Contains("12:15")));
}

TEST(ChartSvg, PointsBeforeTheWindowWidenTheAxisRatherThanVanish) {
  auto o = options("%");
  o.window = TimeWindow{kNoonMs + 1'800'000, kNoonMs + 3'600'000};
  auto doc = parseOk(renderSvgChart({sampled("vcpu0", 3600, 60, [](int i) { return i; })}, o));
  PlotBox plot = plotBoxOf(doc);
  auto xs = xsOf(*doc.all("polyline").at(0));
  EXPECT_EQ(xs.size(), 61u);
  EXPECT_NEAR(*std::min_element(xs.begin(), xs.end()), plot.left, 0.1);
  EXPECT_THAT(doc.texts(), Contains("12:00"));
}

TEST(ChartSvg, AWindowWithoutDataStillSaysNoData) {
  auto o = options("%");
  o.window = TimeWindow{kNoonMs, kNoonMs + 3'600'000};
  auto doc = parseOk(renderSvgChart({}, o));
  EXPECT_THAT(doc.texts(), Contains("no data"));
}

TEST(ChartSvg, SameInputGivesTheSameBytesWhateverThePointOrder) {
  std::vector<ChartSeries> series = {sampled("read", 3600, 10, [](int i) { return i * 1.5; }),
                                     sampled("write", 3600, 10, [](int i) { return i % 13; })};
  auto first = renderSvgChart(series, options("B/s"));
  EXPECT_EQ(renderSvgChart(series, options("B/s")), first);
  std::reverse(series[0].points.begin(), series[0].points.end());
  EXPECT_EQ(renderSvgChart(series, options("B/s")), first);
}

}  // namespace
}  // namespace paddock::cli
