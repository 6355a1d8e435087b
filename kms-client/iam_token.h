// IBM Cloud IAM: bearer tokens from a service ID's API key, for Key Protect
// (and Hyper Protect Crypto Services, which takes the same tokens).
//
// Token API (IBM Cloud IAM "Create an IAM access token for a user or service
// ID using an API key", cloud.ibm.com/apidocs/iam-identity-token-api):
//   POST {endpoint}/identity/token
//   content-type: application/x-www-form-urlencoded, accept: application/json
//   grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=KEY
//   -> 200 {"access_token": "...", "token_type": "Bearer",
//           "expires_in": 3600, "expiration": UNIX-SECONDS, ...}
//   -> 400 {"errorCode": "BXNIM0415E", "errorMessage": "..."} (bad key)
// The endpoint defaults to https://iam.cloud.ibm.com (private endpoint:
// https://private.iam.cloud.ibm.com; tests: the stand-in).
//
// A token is refreshed once 80% of its lifetime has passed (IAM's own
// advice), or at once after Invalidate() (the KMS answered 401). The key
// and the token live only in SecureBuffers; the token response body is
// wiped after parsing.
//
// Errors of AuthHeader():
//   kPermissionDenied  IAM refused the key (400/401/403): unreachable-or-
//                      refused, never "revoked"
//   kUnavailable       IAM unreachable, 429, 5xx
//   kCorruption        no access_token / lifetime in a 200 answer
//
// Thread-safety: one thread at a time (as KmsClient).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "kms-client/http_client.h"

namespace luksfs::kms {

inline constexpr char kDefaultIamEndpoint[] = "https://iam.cloud.ibm.com";

class IamTokenSource {
 public:
  // Reads the API key (first line, whitespace trimmed) from `api_key_file`.
  // `endpoint` "" = kDefaultIamEndpoint; "/identity/token" is appended
  // unless it already ends so. Errors: kInvalidArgument (file, endpoint).
  static Result<std::unique_ptr<IamTokenSource>> Create(
      const std::string& api_key_file, const std::string& endpoint,
      const HttpOptions& http);

  // "authorization: Bearer TOKEN", exchanging the key first when there is no
  // token or it is due for refresh. The pointer stays valid until the next
  // call.
  Result<const SecureBuffer*> AuthHeader();
  // Forget the token (the KMS refused it); the next AuthHeader exchanges.
  void Invalidate() { header_ = SecureBuffer(); }
  // Number of successful exchanges so far (for logs and tests).
  int exchanges() const { return exchanges_; }

 private:
  IamTokenSource(SecureBuffer api_key, std::string url,
                 std::unique_ptr<HttpClient> http)
      : api_key_(std::move(api_key)), url_(std::move(url)),
        http_(std::move(http)) {}
  Status Exchange();

  const SecureBuffer api_key_;
  const std::string url_;
  std::unique_ptr<HttpClient> http_;
  SecureBuffer header_;  // empty = no token
  std::chrono::steady_clock::time_point refresh_at_{};
  int exchanges_ = 0;
};

}  // namespace luksfs::kms
