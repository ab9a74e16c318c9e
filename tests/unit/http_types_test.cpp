#include <gtest/gtest.h>

#include "http/http_types.h"
#include "http/url.h"

namespace paddock::http {
namespace {

TEST(HttpTypes, ErrorJsonRoundTrip) {
  auto res = errorResponse(makeError(Errc::not_found, "no such VM", "name"));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.contentType, "application/json");
  EXPECT_EQ(res.body, R"({"error":{"code":"not_found","field":"name","message":"no such VM"}})");
  auto err = errorFromResponse(res);
  EXPECT_EQ(err.code, Errc::not_found);
  EXPECT_EQ(err.message, "no such VM");
  EXPECT_EQ(err.field, "name");
}

TEST(HttpTypes, ErrorFromNonJsonFallsBackToStatus) {
  Response res;
  res.status = 502;
  res.contentType = "text/html";
  res.body = "<html>bad gateway</html>";
  auto err = errorFromResponse(res);
  EXPECT_EQ(err.code, Errc::internal);
  EXPECT_EQ(err.message, "HTTP 502");
  res.status = 404;
  EXPECT_EQ(errorFromResponse(res).code, Errc::not_found);
}

TEST(HttpUrl, PercentCoding) {
  EXPECT_EQ(percentEncode("a b/c?d=é"), "a%20b%2Fc%3Fd%3D%C3%A9");
  EXPECT_EQ(percentDecode("a%20b%2fc", false).value(), "a b/c");
  EXPECT_EQ(percentDecode("a+b", true).value(), "a b");
  EXPECT_EQ(percentDecode("a+b", false).value(), "a+b");
  EXPECT_FALSE(percentDecode("%", false).has_value());
  EXPECT_FALSE(percentDecode("%4", false).has_value());
  EXPECT_FALSE(percentDecode("%zz", false).has_value());
  auto round = percentDecode(percentEncode("any thing&=+%"), true);
  EXPECT_EQ(round.value(), "any thing&=+%");
}

TEST(HttpUrl, ParseTarget) {
  auto t = parseTarget("/v1/vms/my%20vm?state=running&x=a%26b&empty=&flag&&x2=1+1#frag");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/v1/vms/my vm");
  EXPECT_EQ(t->query.at("state"), "running");
  EXPECT_EQ(t->query.at("x"), "a&b");
  EXPECT_EQ(t->query.at("empty"), "");
  EXPECT_EQ(t->query.at("flag"), "");
  EXPECT_EQ(t->query.at("x2"), "1 1");
  EXPECT_EQ(t->query.size(), 5u);
  EXPECT_FALSE(parseTarget("v1/vms").ok());
  EXPECT_FALSE(parseTarget("/a?b=%G0").ok());
}

}  // namespace
}  // namespace paddock::http
