#include "kms-client/iam_token.h"

#include <cstring>
#include <ctime>

#include "common/log.h"
#include "kms-client/rest_util.h"

namespace luksfs::kms {
namespace {

constexpr char kGrant[] = "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=";
constexpr int64_t kMaxLifetime = 7 * 24 * 3600;

bool Unreserved(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

}  // namespace

Result<std::unique_ptr<IamTokenSource>> IamTokenSource::Create(
    const std::string& api_key_file, const std::string& endpoint,
    const HttpOptions& http) {
  KmsOptions o;
  o.token_file = api_key_file;
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key, LoadToken(o, "", "IAM API key"));
  std::string url = endpoint.empty() ? kDefaultIamEndpoint : endpoint;
  if (url.rfind("https://", 0) != 0 && url.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("IAM endpoint " + url +
                                   ": want https://HOST[/PATH]");
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  const std::string suffix = "/identity/token";
  if (url.size() < suffix.size() ||
      url.compare(url.size() - suffix.size(), suffix.size(), suffix) != 0) {
    url += suffix;
  }
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<HttpClient> client,
                          HttpClient::Create(http));
  return std::unique_ptr<IamTokenSource>(
      new IamTokenSource(std::move(key), std::move(url), std::move(client)));
}

Result<const SecureBuffer*> IamTokenSource::AuthHeader() {
  if (header_.empty() || std::chrono::steady_clock::now() >= refresh_at_) {
    Status s = Exchange();
    // A token that is due but not yet expired would still do; but the
    // lifetime's last 20% is short, and failing now keeps it simple: the
    // revocation watcher counts this as unreachable (grace applies).
    if (!s.ok()) return s;
  }
  return &header_;
}

Status IamTokenSource::Exchange() {
  // The form body, with the key percent-encoded, in locked memory.
  size_t n = std::strlen(kGrant);
  for (uint8_t c : api_key_.span()) n += Unreserved(c) ? 1 : 3;
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer body, SecureBuffer::Create(n));
  size_t at = std::strlen(kGrant);
  std::memcpy(body.data(), kGrant, at);
  static const char kHex[] = "0123456789ABCDEF";
  for (uint8_t c : api_key_.span()) {
    if (Unreserved(c)) {
      body.data()[at++] = c;
    } else {
      body.data()[at++] = '%';
      body.data()[at++] = static_cast<uint8_t>(kHex[c >> 4]);
      body.data()[at++] = static_cast<uint8_t>(kHex[c & 15]);
    }
  }
  const auto started = std::chrono::steady_clock::now();
  LUKSFS_ASSIGN_OR_RETURN(
      HttpResponse r,
      http_->Send("POST", url_,
                  {"content-type: application/x-www-form-urlencoded",
                   "accept: application/json"},
                  nullptr,
                  std::string_view(reinterpret_cast<const char*>(body.data()),
                                   body.size())));
  body.Wipe();
  if (r.status != 200) {
    std::string detail;
    Result<nlohmann::json> j = ParseJson(r.body, "IAM error");
    if (j.ok()) {
      if (const std::string* c = JsonString(*j, "errorCode")) detail = *c;
      if (const std::string* m = JsonString(*j, "errorMessage")) {
        detail += (detail.empty() ? "" : ": ") + *m;
      }
    }
    WipeString(r.body);
    const std::string what = "IAM token endpoint " + url_ + ": HTTP " +
                             std::to_string(r.status) +
                             (detail.empty() ? "" : " " + CleanServerText(detail));
    if (r.status == 429 || r.status >= 500) return Status::Unavailable(what);
    return Status::PermissionDenied(what + " (API key refused)");
  }
  Result<nlohmann::json> j = ParseJson(r.body, "IAM token response");
  WipeString(r.body);
  if (!j.ok()) return j.status();
  const std::string* token = JsonString(*j, "access_token");
  int64_t lifetime = 0;
  if (const nlohmann::json* e = JsonField(*j, "expires_in");
      e != nullptr && e->is_number_integer()) {
    lifetime = e->get<int64_t>();
  } else if (const nlohmann::json* x = JsonField(*j, "expiration");
             x != nullptr && x->is_number_integer()) {
    lifetime = x->get<int64_t>() - static_cast<int64_t>(std::time(nullptr));
  }
  if (token == nullptr || token->empty() || lifetime <= 0 ||
      lifetime > kMaxLifetime) {
    WipeJson(*j);
    return Status::Corruption("IAM token response from " + url_ +
                              ": no access_token or no valid lifetime "
                              "(expires_in / expiration)");
  }
  Result<SecureBuffer> t = SecureBuffer::CopyOf(
      {reinterpret_cast<const uint8_t*>(token->data()), token->size()});
  WipeJson(*j);
  if (!t.ok()) return t.status();
  LUKSFS_ASSIGN_OR_RETURN(header_, SecretHeader("authorization: Bearer ", *t));
  // Refresh after 80% of the lifetime, counted from the request.
  refresh_at_ = started + std::chrono::milliseconds(lifetime * 800);
  ++exchanges_;
  LogDebug("IAM token from " + url_ + " (valid " + std::to_string(lifetime) +
           " s, exchange " + std::to_string(exchanges_) + ")");
  return Status();
}

}  // namespace luksfs::kms
