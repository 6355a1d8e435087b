// Parsing of the response header lines a server sends (untrusted bytes),
// one line at a time as libcurl delivers them (CRLF included).
//
// A status line ("HTTP/1.1 206 Partial Content") sets *status (0 when it
// carries no number) and clears *headers: after "100 Continue" only the
// final response's headers count. A "Name: value" line is appended as
// (lower-case name, value without surrounding blanks), unless *headers
// already holds kMaxResponseHeaders entries or the value is longer than
// kMaxHeaderValueBytes (then it is dropped). Anything else is ignored.
//
// Thread-safety: pure function. Errors: none (bad lines are ignored).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace luksfs::http {

void ParseResponseHeaderLine(
    std::string_view line, long* status,
    std::vector<std::pair<std::string, std::string>>* headers);

}  // namespace luksfs::http
