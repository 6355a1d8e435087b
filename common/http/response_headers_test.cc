#include "common/http/response_headers.h"

#include <gtest/gtest.h>

#include "common/http/http_request.h"

namespace luksfs::http {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

TEST(ResponseHeaders, StatusLinesResetAndHeadersAreNormalised) {
  long status = -1;
  Headers h;
  ParseResponseHeaderLine("HTTP/1.1 100 Continue\r\n", &status, &h);
  EXPECT_EQ(status, 100);
  ParseResponseHeaderLine("X-Early: 1\r\n", &status, &h);
  ParseResponseHeaderLine("HTTP/2 206\r\n", &status, &h);
  EXPECT_EQ(status, 206);
  EXPECT_TRUE(h.empty());  // the 100's headers are gone
  ParseResponseHeaderLine("ETag:  \"abc\" \t\r\n", &status, &h);
  ParseResponseHeaderLine("Content-Length:12\r\n", &status, &h);
  ParseResponseHeaderLine("no colon here\r\n", &status, &h);
  ParseResponseHeaderLine("\r\n", &status, &h);
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h[0], (std::pair<std::string, std::string>{"etag", "\"abc\""}));
  EXPECT_EQ(h[1], (std::pair<std::string, std::string>{"content-length", "12"}));
}

TEST(ResponseHeaders, MalformedStatusLinesAndBounds) {
  long status = -1;
  Headers h;
  ParseResponseHeaderLine("HTTP/1.1\r\n", &status, &h);
  EXPECT_EQ(status, 0);
  ParseResponseHeaderLine("HTTP/1.1 2x0 odd\r\n", &status, &h);
  EXPECT_EQ(status, 2);
  ParseResponseHeaderLine("HTTP/1.1 20", &status, &h);
  EXPECT_EQ(status, 20);
  const std::string big = "X: " + std::string(kMaxHeaderValueBytes + 1, 'v');
  ParseResponseHeaderLine(big, &status, &h);
  EXPECT_TRUE(h.empty());
  for (size_t i = 0; i < kMaxResponseHeaders + 10; ++i) {
    ParseResponseHeaderLine("X-N: " + std::to_string(i), &status, &h);
  }
  EXPECT_EQ(h.size(), kMaxResponseHeaders);
}

}  // namespace
}  // namespace luksfs::http
