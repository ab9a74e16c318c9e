// What `paddock vm chart -o PATH [--format svg|png]` writes: the format, and the file's bytes.
#pragma once

#include <string>
#include <vector>

#include "cli/chart_svg.h"
#include "common/result.h"

namespace paddock::cli {

enum class ChartFormat { svg, png };

// `format` ("svg" or "png") when given, else the extension of `path` (.svg or .png, in any case).
// Anything else is an invalid_argument error naming the extension, as is a `format` that
// contradicts the extension (`--format png -o cpu.svg`); with `format`, any other extension or
// none is fine.
Result<ChartFormat> chartFormatFor(const std::string& path, const std::string& format);

// The SVG document, or for PNG that same document rasterized at the chart's width and height.
Result<std::string> renderChart(const std::vector<ChartSeries>& series, const ChartOptions& options,
                                ChartFormat format);

}  // namespace paddock::cli
