#include "cli/chart_png.h"

#include <cairo.h>
#include <librsvg/rsvg.h>

#include <memory>

#include <fmt/format.h>

namespace paddock::cli {
namespace {

// Far beyond any chart, well inside cairo's 32767, and small enough that a typo in a size
// cannot ask for gigabytes of pixels.
constexpr int kMaxSide = 16384;

struct HandleUnref {
  void operator()(RsvgHandle* h) const { g_object_unref(h); }
};
struct SurfaceDestroy {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDestroy {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};

// Takes the GError's message and frees it.
std::string takeMessage(GError* error) {
  std::string message = error ? error->message : "unknown error";
  g_clear_error(&error);
  return message;
}

cairo_status_t appendTo(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

Result<std::string> rasterizeSvg(std::string_view svg, int width, int height) {
  if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide)
    return makeError(Errc::invalid_argument,
                     fmt::format("a PNG chart of {}x{} pixels is outside 1 to {} pixels a side",
                                 width, height, kMaxSide));
  GError* error = nullptr;
  std::unique_ptr<RsvgHandle, HandleUnref> handle(
      rsvg_handle_new_from_data(reinterpret_cast<const guint8*>(svg.data()), svg.size(), &error));
  if (!handle)
    return makeError(Errc::invalid_argument, "cannot read the chart's SVG: " + takeMessage(error));

  std::unique_ptr<cairo_surface_t, SurfaceDestroy> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height));
  std::unique_ptr<cairo_t, ContextDestroy> cr(cairo_create(surface.get()));
  if (cairo_status_t s = cairo_status(cr.get()); s != CAIRO_STATUS_SUCCESS)
    return makeError(Errc::internal, fmt::format("cannot draw a {}x{} PNG: {}", width, height,
                                                 cairo_status_to_string(s)));
  // Where the aspect ratio differs from the SVG's, the margins are white like the chart.
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  RsvgRectangle viewport{0, 0, static_cast<double>(width), static_cast<double>(height)};
  if (!rsvg_handle_render_document(handle.get(), cr.get(), &viewport, &error))
    return makeError(Errc::internal, "cannot draw the chart: " + takeMessage(error));
  cairo_surface_flush(surface.get());

  std::string png;
  if (cairo_status_t s = cairo_surface_write_to_png_stream(surface.get(), appendTo, &png);
      s != CAIRO_STATUS_SUCCESS)
    return makeError(Errc::internal,
                     fmt::format("cannot encode the PNG: {}", cairo_status_to_string(s)));
  return png;
}

}  // namespace paddock::cli
