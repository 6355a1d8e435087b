// Shared pieces of the REST KMS drivers (Key Protect, Vault transit): URI
// splitting, bearer-token loading, JSON access that never throws, and
// server error text cleaned for messages.
//
// Thread-safety: all functions are reentrant.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "kms-client/kms.h"

namespace luksfs::kms {

// "SCHEME+http[s]://AUTHORITY/PATH" split into the HTTP base URL
// ("http[s]://AUTHORITY") and PATH (without the leading '/').
struct RestUri {
  std::string base;  // e.g. "https://us-south.kms.cloud.ibm.com"
  std::string path;  // e.g. "0f6a...-key-id"
};
// `scheme` is "kp" or "vault". The authority must be non-empty and carry no
// user info; no query or fragment. Errors: kInvalidArgument naming the part.
Result<RestUri> ParseRestUri(std::string_view uri, std::string_view scheme);

// Whether `s` is 1..max characters of [A-Za-z0-9._-].
bool ValidPathSegment(std::string_view s, size_t max = 128);

// The REST credential: the contents of options.token_file (surrounding
// whitespace trimmed) if set, else of the environment variable
// options.token_env, else of `default_env`. Errors: kInvalidArgument (none
// found, empty, or containing control characters), kNotFound, kIOError.
Result<SecureBuffer> LoadToken(const KmsOptions& options,
                               std::string_view default_env,
                               std::string_view who);

// `prefix` + token, e.g. "authorization: Bearer " + token, as one header
// line in locked memory.
Result<SecureBuffer> SecretHeader(std::string_view prefix,
                                  const SecureBuffer& token);

// Parses a JSON body without exceptions. kCorruption naming `what` on a
// syntax error.
Result<nlohmann::json> ParseJson(std::string_view body, std::string_view what);

// j[key] if j is an object holding key, else nullptr.
const nlohmann::json* JsonField(const nlohmann::json& j, const char* key);
// j[key] as a string, or nullptr when missing or not a string.
const std::string* JsonString(const nlohmann::json& j, const char* key);

// Overwrites every string in `j` (recursively) that may hold a secret.
void WipeJson(nlohmann::json& j);

// At most 200 printable ASCII characters of `s` (others become '?').
std::string CleanServerText(std::string_view s);

}  // namespace luksfs::kms
