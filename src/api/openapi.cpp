#include <regex>

#include "api/api_context.h"
#include "api/json_io.h"
#include "api/router.h"

namespace paddock::api {

namespace {

nlohmann::json resourcesSchema() {
  nlohmann::json count = {{"type", "integer"}, {"minimum", 0}};
  nlohmann::json cpus = {{"type", "number"}, {"minimum", 0}};
  nlohmann::json flag = {{"type", "boolean"}};
  nlohmann::json disk = {{"type", "object"},
                         {"additionalProperties", false},
                         {"properties",
                          {{"read_bps", count},
                           {"write_bps", count},
                           {"read_iops", count},
                           {"write_iops", count},
                           {"read_bps_max", count},
                           {"write_bps_max", count},
                           {"read_iops_max", count},
                           {"write_iops_max", count},
                           {"burst_seconds", count},
                           {"group", {{"type", "string"}, {"pattern", "^[a-z0-9-]{1,32}$"}}}}}};
  return {{"type", "object"},
          {"additionalProperties", false},
          {"properties",
           {{"cpu_shares", {{"type", "integer"}, {"minimum", 0}, {"maximum", 100000}}},
            {"cpu_limit", cpus},
            {"cpu_reservation", cpus},
            {"cpus", {{"type", "array"}, {"items", count}}},
            {"dedicate", flag},
            {"latency", {{"type", "string"}, {"enum", {"normal", "high"}}}},
            {"memory_limit_mib", count},
            {"memory_reservation_mib", count},
            {"memory_lock", flag},
            {"page_sharing", flag},
            {"io_weight", {{"type", "integer"}, {"minimum", 0}, {"maximum", 1000}}},
            {"balloon_mib", count},
            {"disk_limits", {{"type", "object"}, {"additionalProperties", disk}}}}}};
}

nlohmann::json vmSpecSchema() {
  return {{"type", "object"},
          {"required", {"name"}},
          {"additionalProperties", false},
          {"properties",
           {{"name", {{"type", "string"}, {"pattern", "^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"}}},
            {"vcpus", {{"type", "integer"}, {"minimum", 1}}},
            {"memory_mib", {{"type", "integer"}, {"minimum", 16}}},
            {"disks",
             {{"type", "array"},
              {"items",
               {{"type", "object"},
                {"additionalProperties", false},
                {"properties",
                 {{"name", {{"type", "string"}}},
                  {"size_mib", {{"type", "integer"}, {"minimum", 1}}}}}}}}},
            {"image", {{"type", "string"}}},
            {"kernel", {{"type", "string"}}},
            {"initrd", {{"type", "string"}}},
            {"cmdline", {{"type", "string"}}},
            {"description", {{"type", "string"}, {"maxLength", 1024}}},
            {"accel", {{"type", "string"}, {"enum", {"auto", "kvm", "tcg"}}}},
            {"labels", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
            {"resources", resourcesSchema()}}}};
}

nlohmann::json errorSchema() {
  return {{"type", "object"},
          {"properties",
           {{"error",
             {{"type", "object"},
              {"properties",
               {{"code", {{"type", "string"}}},
                {"message", {{"type", "string"}}},
                {"field", {{"type", "string"}}}}}}}}}};
}

nlohmann::json document(const Router& router) {
  nlohmann::json paths = nlohmann::json::object();
  static const std::regex param(R"(\{([a-z_]+)\})");
  for (const auto& r : router.routes()) {
    std::string method = r.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    nlohmann::json op = {
        {"summary", r.summary},
        {"responses",
         {{"2XX", {{"description", "success"}}},
          {"4XX",
           {{"description", "bad request or wrong state"},
            {"content",
             {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}}}}}};
    nlohmann::json params = nlohmann::json::array();
    for (std::sregex_iterator it(r.pattern.begin(), r.pattern.end(), param), end; it != end; ++it)
      params.push_back({{"name", (*it)[1].str()},
                        {"in", "path"},
                        {"required", true},
                        {"schema", {{"type", "string"}}}});
    if (!params.empty()) op["parameters"] = params;
    if (r.pattern == "/v1/vms" && r.method == "POST")
      op["requestBody"] = {
          {"content",
           {{"application/json", {{"schema", {{"$ref", "#/components/schemas/VmSpec"}}}}}}}};
    paths[r.pattern][method] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Paddock API"}, {"version", PADDOCK_VERSION}}},
          {"paths", paths},
          {"components",
           {{"schemas", {{"VmSpec", vmSpecSchema()}, {"Error", errorSchema()}}},
            {"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
}

}  // namespace

void addOpenApiRoute(Router& router) {
  router.add({"GET", "/v1/openapi.json", "This document",
              [&router](const http::Request&, const Params&, http::Exchange& ex) {
                respondJson(ex, 200, document(router));
              }});
}

}  // namespace paddock::api
