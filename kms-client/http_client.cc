#include "kms-client/http_client.h"

#include <algorithm>

#include "common/retry_policy.h"
#include "kms-client/cert_info.h"
#include "kms-client/tls_connection.h"

namespace luksfs::kms {

void WipeString(std::string& s) {
  if (!s.empty()) SecureWipe(s.data(), s.size());
  s.clear();
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(
    const HttpOptions& opts) {
  LUKSFS_RETURN_IF_ERROR(InitSodium());
  std::unique_ptr<HttpClient> c(new HttpClient());
  c->options_ = opts;
  if (c->options_.max_attempts < 1) c->options_.max_attempts = 1;
  if (c->options_.timeout_ms <= 0) c->options_.timeout_ms = 10000;
  if (!opts.fingerprint.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(c->pins_, ParseFingerprints(opts.fingerprint));
  }
  return c;
}

Result<HttpResponse> HttpClient::Send(std::string_view method,
                                      const std::string& url,
                                      const std::vector<std::string>& headers,
                                      const SecureBuffer* secret_header,
                                      std::string_view body) {
  http::Request req;
  req.method = std::string(method);
  req.url = url;
  req.headers = headers;
  req.secret_header = secret_header;
  if (method == "POST") {
    req.body = {reinterpret_cast<const uint8_t*>(body.data()), body.size()};
  }
  req.max_body = kMaxHttpResponseBytes;
  req.tls.ca_file = options_.ca_file;
  if (!pins_.empty()) {
    req.tls.leaf_check = [this](X509* leaf) -> Status {
      Result<bool> match = PinsMatch(leaf, pins_);
      if (match.ok() && *match) return Status::Ok();
      return Status::PermissionDenied(
          "certificate fingerprint mismatch: server presented " +
          PresentedFingerprints(leaf) + "; pinned " + FingerprintLines(pins_));
    };
  }
  req.timeouts.total_ms = options_.timeout_ms;
  req.timeouts.connect_ms = std::min(options_.timeout_ms, 5000);

  http::RetryRules rules;
  rules.policy = RetryPolicy::Kms();
  rules.policy.max_retries = unsigned(options_.max_attempts - 1);
  LUKSFS_ASSIGN_OR_RETURN(http::Response r, transport_.Send(req, rules));
  return HttpResponse{r.status, std::move(r.body)};
}

}  // namespace luksfs::kms
