#include "cli/chart_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include "cli/chart_png.h"

namespace paddock::cli {
namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool known(const std::string& name) {
  return name == "svg" || name == "png";
}

ChartFormat formatNamed(const std::string& name) {
  return name == "svg" ? ChartFormat::svg : ChartFormat::png;
}

}  // namespace

Result<ChartFormat> chartFormatFor(const std::string& path, const std::string& format) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::string byExtension = extension.empty() ? "" : lowercase(extension.substr(1));
  if (format.empty()) {
    if (known(byExtension)) return formatNamed(byExtension);
    if (extension.empty())
      return makeError(Errc::invalid_argument,
                       fmt::format("'{}' has no extension: name the chart .svg or .png, or pass "
                                   "--format svg|png",
                                   path),
                       "output");
    return makeError(Errc::invalid_argument,
                     fmt::format("unknown chart extension '{}' in '{}': use .svg or .png, or pass "
                                 "--format svg|png",
                                 extension, path),
                     "output");
  }
  std::string asked = lowercase(format);
  if (!known(asked))
    return makeError(Errc::invalid_argument,
                     fmt::format("unknown chart format '{}': use svg or png", format), "format");
  if (known(byExtension) && byExtension != asked)
    return makeError(Errc::invalid_argument,
                     fmt::format("--format {} contradicts the extension of '{}'", format, path),
                     "format");
  return formatNamed(asked);
}

Result<std::string> renderChart(const std::vector<ChartSeries>& series, const ChartOptions& options,
                                ChartFormat format) {
  std::string svg = renderSvgChart(series, options);
  if (format == ChartFormat::svg) return svg;
  return rasterizeSvg(svg, std::max(options.width, kMinChartWidth),
                      std::max(options.height, kMinChartHeight));
}

}  // namespace paddock::cli
