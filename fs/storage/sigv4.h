// SigV4: AWS Signature Version 4 for S3 requests, as pure functions.
//
// Written in the project because libcurl 7.88's CURLOPT_AWS_SIGV4 sorts
// canonical headers by "name:value" instead of by name (which breaks
// UploadPartCopy with x-amz-copy-source-range) and does not canonicalise
// the query string (curl issues #9717 and #10129, fixed by curl PR #14370
// in 8.10). The signing follows the AWS Signature Version 4 documentation
// ("Create a signed AWS API request"); doc/s3.md lists the pitfalls.
//
// Inputs are already-encoded: the caller builds the path with UriEncode and
// the query with CanonicalQuery and sends exactly those bytes on the wire.
// Thread-safety: every function is pure (no shared state).
// Errors: none; the signing key is returned in a SecureBuffer and wiped.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::fs::sigv4 {

// Hex SHA-256 of the empty string (the payload hash of a body-less request).
inline constexpr char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;           // "GET", "PUT", ...
  std::string canonical_uri;    // URI-encoded path, "/" at least
  std::string canonical_query;  // CanonicalQuery() output, "" for none
  Headers headers;              // every header to sign (host, x-amz-*, ...)
  std::string payload_hash;     // hex SHA-256 of the body, or UNSIGNED-PAYLOAD
};

// RFC 3986 encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9
// - _ . ~) kept, everything else %XX (upper case); '/' kept unless
// encode_slash.
std::string UriEncode(std::string_view s, bool encode_slash);

// "a=1&b=2" from unencoded (name, value) pairs: each encoded, then sorted by
// name and value.
std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> q);

// Lower-case hex SHA-256 (common/hex.h encodes).
std::string Sha256Hex(std::span<const uint8_t> data);
inline std::string Sha256Hex(std::string_view s) {
  return Sha256Hex({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

// The canonical request; *signed_headers receives "host;range;...".
// Header names are lower-cased and sorted by name; values are trimmed and
// inner runs of spaces collapsed.
std::string CanonicalRequest(const Request& req, std::string* signed_headers);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical)>".
// amz_date is "YYYYMMDDTHHMMSSZ"; scope is "YYYYMMDD/region/service/aws4_request".
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request".
Result<SecureBuffer> SigningKey(std::span<const uint8_t> secret,
                                std::string_view date, std::string_view region,
                                std::string_view service);

// Hex HMAC-SHA256(key, string_to_sign).
std::string Signature(std::span<const uint8_t> signing_key,
                      std::string_view string_to_sign);

// The whole Authorization header value for `req` at `amz_date`.
Result<std::string> Authorization(std::string_view access_key,
                                  std::span<const uint8_t> secret,
                                  std::string_view amz_date,
                                  std::string_view region,
                                  std::string_view service, const Request& req);

// "YYYYMMDDTHHMMSSZ" for a Unix time (UTC).
std::string AmzDate(int64_t unix_seconds);

}  // namespace luksfs::fs::sigv4
