#include <fmt/format.h>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

void addHostRoutes(Router& router, ApiContext& ctx) {
  router.add({"GET", "/v1/host", "Host capacity, QEMU version and the accelerator chosen (and why)",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                respondJson(ex, 200, ctx.host.info());
              }});
  router.add({"GET", "/v1/images", "List guest images",
              [&ctx](const http::Request&, const Params&, http::Exchange& ex) {
                nlohmann::json out = nlohmann::json::array();
                for (const auto& name : ctx.images.knownImages()) {
                  auto i = ctx.images.info(name);
                  if (i) out.push_back(toJson(*i));
                }
                respondJson(ex, 200, {{"images", out}});
              }});
  router.add({"GET", "/v1/images/{name}", "Show a guest image",
              [&ctx](const http::Request&, const Params& p, http::Exchange& ex) {
                respondResult(ex, ctx.images.info(p.at("name")));
              }});
  router.add({"POST", "/v1/images/{name}/actions/build",
              "Build a guest image from its recipe (operation); {\"force\": true} rebuilds",
              [&ctx](const http::Request& req, const Params& p, http::Exchange& ex) {
                auto body = parseBody(req);
                if (!body) return respondError(ex, body.error());
                if (auto s = onlyFields(*body, {"force"}); !s) return respondError(ex, s.error());
                std::string name = p.at("name");
                auto known = ctx.images.info(name);
                if (!known) return respondError(ex, known.error());
                bool force = body->value("force", false);
                auto op = ctx.operations.start(
                    "image.build", "image/" + name,
                    [&ctx, name, force](OperationContext& oc) -> Result<nlohmann::json> {
                      int step = 0;
                      auto built = ctx.images.build(name, force, [&](const std::string& line) {
                        step = std::min(step + 10, 90);
                        oc.progress(step, line);
                      });
                      if (!built) return built.error();
                      return toJson(*built);
                    });
                respondJson(ex, 202, toJson(op));
              }});
}

}  // namespace paddock::api
