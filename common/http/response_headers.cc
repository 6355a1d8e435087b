#include "common/http/response_headers.h"

#include <cctype>

#include "common/http/http_request.h"

namespace luksfs::http {

namespace {

bool Blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view v) {
  while (!v.empty() && Blank(v.back())) v.remove_suffix(1);
  while (!v.empty() && Blank(v.front())) v.remove_prefix(1);
  return v;
}

// The three digits after the first space, or 0.
long StatusCode(std::string_view line) {
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return 0;
  long code = 0;
  int digits = 0;
  for (size_t i = sp + 1; i < line.size() && digits < 3; ++i, ++digits) {
    const char c = line[i];
    if (c < '0' || c > '9') break;
    code = code * 10 + (c - '0');
  }
  return code;
}

}  // namespace

void ParseResponseHeaderLine(
    std::string_view line, long* status,
    std::vector<std::pair<std::string, std::string>>* headers) {
  if (line.rfind("HTTP/", 0) == 0) {  // a new status line (e.g. after 100)
    *status = StatusCode(line);
    headers->clear();
    return;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return;
  const std::string_view value = Trim(line.substr(colon + 1));
  if (headers->size() >= kMaxResponseHeaders ||
      value.size() > kMaxHeaderValueBytes) {
    return;
  }
  std::string name(Trim(line.substr(0, colon)));
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  headers->emplace_back(std::move(name), std::string(value));
}

}  // namespace luksfs::http
