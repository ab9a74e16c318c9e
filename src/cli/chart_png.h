// PNG charts for `paddock vm chart -o cpu.png`: librsvg rasterizes the very SVG document that
// chart_svg.h produces, so both formats show the same chart.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace paddock::cli {

// The SVG document drawn into a `width` × `height` pixel image on white, scaled to fit with its
// aspect ratio kept, as the bytes of an opaque RGB PNG. An SVG that does not parse, or a size
// outside 1..16384 pixels a side, is an invalid_argument error.
Result<std::string> rasterizeSvg(std::string_view svg, int width, int height);

}  // namespace paddock::cli
