#include "bench/report.h"

#include <expat.h>
#include <gtest/gtest.h>

#include <set>

#include "bench/schedule.h"
#include "bench/workload_result.h"

namespace paddock::bench {
namespace {

TEST(BenchResults, ResultLinesAreParsedAndEverythingElseIsIgnored) {
  auto r = parseResults(
      "$ xen-2004.sh osdb-ir quick\r\nstarting\nRESULT osdb_ir_tps 56927.85 tps higher\r\n"
      "RESULT build_seconds 1.149 s lower\nDONE=0\n");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].metric, "osdb_ir_tps");
  EXPECT_DOUBLE_EQ((*r)[0].value, 56927.85);
  EXPECT_EQ((*r)[0].unit, "tps");
  EXPECT_EQ((*r)[0].better, Better::higher);
  EXPECT_EQ((*r)[1].better, Better::lower);
}

TEST(BenchResults, NoResultOrABadOneIsAFailureNeverAZero) {
  EXPECT_FALSE(parseResults("xen-2004: cpu: 7z failed\n"));
  EXPECT_FALSE(parseResults("RESULT cpu_7z_seconds 0 s lower\n"));
  EXPECT_FALSE(parseResults("RESULT cpu_7z_seconds nan s lower\n"));
  EXPECT_FALSE(parseResults("RESULT cpu_7z_seconds -1 s lower\n"));
  EXPECT_FALSE(parseResults("RESULT cpu_7z_seconds 1.5s s lower\n"));
  EXPECT_FALSE(parseResults("RESULT cpu_7z_seconds 1.5 s faster\n"));
  EXPECT_FALSE(parseResults("RESULT cpu_7z_seconds 1.5 s lower extra\n"));
  EXPECT_FALSE(parseResults("RESULT cpu_7z_seconds\n"));
  // Shares (unit %) may be 0, but not outside 0-100.
  auto share = parseResults("RESULT web_16g_within_300ms 0 % higher\n");
  ASSERT_TRUE(share) << share.error().message;
  EXPECT_EQ((*share)[0].value, 0.0);
  EXPECT_TRUE(parseResults("RESULT web_1g_within_300ms 100 % higher\n"));
  EXPECT_FALSE(parseResults("RESULT web_1g_within_300ms 100.5 % higher\n"));
  EXPECT_FALSE(parseResults("RESULT web_1g_within_300ms -1 % higher\n"));
}

TEST(BenchSchedule, TrialsInterleaveTargetsAndRotateWhoGoesFirst) {
  auto s = interleave(2, {"cpu", "build"}, {"native", "paddock", "qemu-peer"});
  ASSERT_EQ(s.size(), 12u);
  // Every workload runs on every target once per trial, back to back.
  for (size_t i = 0; i < s.size(); i += 3) {
    std::set<std::string> targets{s[i].target, s[i + 1].target, s[i + 2].target};
    EXPECT_EQ(targets.size(), 3u);
    EXPECT_EQ(s[i].workload, s[i + 2].workload);
    EXPECT_EQ(s[i].trial, s[i + 2].trial);
  }
  EXPECT_EQ(s[0].target, "native");
  EXPECT_EQ(s[3].target, "paddock");
  EXPECT_EQ(s[6].target, "qemu-peer");
  EXPECT_EQ(s[9].target, "native");
  EXPECT_EQ(s[6].trial, 1);
}

RunRecord run(const std::string& target, const std::string& workload, int trial, double value,
              Better better = Better::higher) {
  return {target, workload, trial, true, "", {{workload + "_x", value, "u", better}}, 1.0};
}

TEST(BenchReport, RatiosToNativeAndToThePeerFollowWhichWayIsBetter) {
  std::vector<RunRecord> runs = {run("native", "rate", 0, 100),
                                 run("paddock", "rate", 0, 50),
                                 run("qemu-peer", "rate", 0, 50),
                                 run("native", "rate", 1, 100),
                                 run("paddock", "rate", 1, 50),
                                 run("qemu-peer", "rate", 1, 50),
                                 run("native", "time", 0, 2, Better::lower),
                                 run("paddock", "time", 0, 8, Better::lower),
                                 run("qemu-peer", "time", 0, 4, Better::lower),
                                 run("native", "time", 1, 2, Better::lower),
                                 run("paddock", "time", 1, 8, Better::lower),
                                 run("qemu-peer", "time", 1, 4, Better::lower)};
  auto rows = summarizeRuns(runs, {"native", "paddock", "qemu-peer"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].metric, "rate_x");
  ASSERT_TRUE(rows[0].cells[1].vsNative);
  EXPECT_DOUBLE_EQ(rows[0].cells[1].vsNative->value, 0.5);
  ASSERT_TRUE(rows[0].paddockVsPeer);
  EXPECT_DOUBLE_EQ(rows[0].paddockVsPeer->value, 1.0);
  // A time: 8 s against native's 2 s keeps a quarter of native's performance.
  EXPECT_DOUBLE_EQ(rows[1].cells[1].vsNative->value, 0.25);
  EXPECT_DOUBLE_EQ(rows[1].paddockVsPeer->value, 0.5);
  EXPECT_EQ(rows[1].cells[0].summary->n, 2u);
  std::string md =
      markdownReport(rows, {"native", "paddock", "qemu-peer"}, {{"accelerator", "tcg"}});
  EXPECT_NE(md.find("- accelerator: tcg"), std::string::npos) << md;
  EXPECT_NE(md.find("| time | time_x | u (lower is better) | 2.00 ± 0 (2.00) |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("0.250 ± 0.000 |"), std::string::npos) << md;
  EXPECT_NE(md.find("paddock ÷ qemu-peer"), std::string::npos) << md;
}

TEST(BenchReport, AFailedRunIsCountedAsFailedAndNotAsAValue) {
  std::vector<RunRecord> runs = {run("native", "db", 0, 100),
                                 run("paddock", "db", 0, 40),
                                 run("native", "db", 1, 100),
                                 {"paddock", "db", 1, false, "pgbench failed", {}, 3.0},
                                 {"native", "web", 0, false, "nginx did not start", {}, 1.0},
                                 {"paddock", "web", 0, false, "nginx did not start", {}, 1.0}};
  auto rows = summarizeRuns(runs, {"native", "paddock"});
  ASSERT_EQ(rows.size(), 2u);
  const auto& p = rows[0].cells[1];
  EXPECT_EQ(p.runs, 2);
  EXPECT_EQ(p.failed, 1);
  ASSERT_TRUE(p.summary);
  EXPECT_EQ(p.summary->n, 1u);
  EXPECT_DOUBLE_EQ(p.summary->mean, 40);
  // A workload that never produced a figure still has its row, all failed.
  EXPECT_EQ(rows[1].metric, "(web)");
  EXPECT_FALSE(rows[1].cells[0].summary);
  EXPECT_EQ(rows[1].cells[0].failed, 1);
  std::string md = markdownReport(rows, {"native", "paddock"}, nlohmann::json::object());
  EXPECT_NE(md.find("**FAILED 1 of 2**"), std::string::npos) << md;
  EXPECT_NE(md.find("| web | (web) | - (higher is better) | **FAILED 1 of 1** |"),
            std::string::npos)
      << md;
  std::string csv = csvReport(rows);
  EXPECT_NE(csv.find("db,db_x,u,higher,paddock,2,1,40,0,40,40,40,0.4,0\n"), std::string::npos)
      << csv;
  EXPECT_NE(csv.find("web,(web),,higher,native,1,1,,,,,,,\n"), std::string::npos) << csv;
}

// Natively the web test has one server; a guest target measures more sizes. A run that worked
// without a figure leaves that cell "not run", not failed.
TEST(BenchReport, AFigureOnlySomeTargetsMeasureIsNotRunElsewhere) {
  auto web = [](const std::string& target, std::vector<Sample> samples, bool ok = true) {
    return RunRecord{target, "web", 0, ok, ok ? "" : "no answer", std::move(samples), 1.0};
  };
  Sample one{"web_1g_req_per_s", 100, "req/s", Better::higher};
  Sample two{"web_2g_req_per_s", 150, "req/s", Better::higher};
  auto rows =
      summarizeRuns({web("native", {one}), web("paddock", {one, two}), web("qemu-peer", {}, false)},
                    {"native", "paddock", "qemu-peer"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].metric, "web_2g_req_per_s");
  EXPECT_EQ(rows[1].cells[0].runs, 0);
  EXPECT_EQ(rows[1].cells[0].failed, 0);
  EXPECT_EQ(rows[1].cells[1].runs, 1);
  EXPECT_EQ(rows[1].cells[2].failed, 1);  // the failed run fails every figure
  EXPECT_EQ(rows[0].cells[2].failed, 1);
  std::string md =
      markdownReport(rows, {"native", "paddock", "qemu-peer"}, nlohmann::json::object());
  EXPECT_NE(
      md.find("| web | web_2g_req_per_s | req/s (higher is better) | not run | 150.0 ± 0 (150.0) "
              "| **FAILED 1 of 1** |"),
      std::string::npos)
      << md;
}

TEST(BenchReport, TheChartIsWellFormedSvgWithABarPerTargetAndMetric) {
  std::vector<RunRecord> runs = {run("native", "a", 0, 10),
                                 run("paddock", "a", 0, 5),
                                 run("native", "b", 0, 1, Better::lower),
                                 {"paddock", "b", 0, false, "x", {}, 0}};
  auto rows = summarizeRuns(runs, {"native", "paddock"});
  std::string svg = svgRatioChart(rows, {"native", "paddock"}, "quick <profile> & more");
  XML_Parser p = XML_ParserCreate(nullptr);
  bool ok = XML_Parse(p, svg.data(), static_cast<int>(svg.size()), 1) == XML_STATUS_OK;
  XML_ParserFree(p);
  EXPECT_TRUE(ok) << svg;
  EXPECT_NE(svg.find("quick &lt;profile&gt; &amp; more"), std::string::npos);
  // native a, paddock a, native b bars (+ 2 legend squares + the background); paddock b failed.
  size_t rects = 0;
  for (size_t at = svg.find("<rect"); at != std::string::npos; at = svg.find("<rect", at + 1))
    ++rects;
  EXPECT_EQ(rects, 6u) << svg;
  EXPECT_NE(svg.find(">×</text>"), std::string::npos);
}

TEST(BenchReport, RunRecordsRoundTripThroughJson) {
  RunRecord r{"paddock", "micro", 1, true, "", {{"mmap_us", 6.4, "us", Better::lower}}, 2.5};
  auto back = runRecordFromJson(toJson(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->target, "paddock");
  EXPECT_EQ(back->samples[0].better, Better::lower);
  EXPECT_DOUBLE_EQ(back->samples[0].value, 6.4);
  EXPECT_FALSE(runRecordFromJson(nlohmann::json{{"target", "x"}}));
}

}  // namespace
}  // namespace paddock::bench
