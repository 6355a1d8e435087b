// libFuzzer target: response header lines from an untrusted server, fed
// one line at a time (split at '\n', as libcurl delivers them).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/http/http_request.h"
#include "common/http/response_headers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  while (!in.empty()) {
    size_t nl = in.find('\n');
    const size_t len = nl == std::string_view::npos ? in.size() : nl + 1;
    luksfs::http::ParseResponseHeaderLine(in.substr(0, len), &status, &headers);
    in.remove_prefix(len);
  }
  if (headers.size() > luksfs::http::kMaxResponseHeaders) __builtin_trap();
  for (const auto& [k, v] : headers) {
    if (v.size() > luksfs::http::kMaxHeaderValueBytes) __builtin_trap();
    for (char c : k) {
      if (c >= 'A' && c <= 'Z') __builtin_trap();
    }
  }
  if (status < 0 || status > 999) __builtin_trap();
  return 0;
}
