#include "kms-client/key_protect.h"

#include <sodium.h>
#include <strings.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include "crypto/base64.h"
#include "kms-client/http_client.h"
#include "kms-client/iam_token.h"
#include "kms-client/rest_util.h"

namespace luksfs::kms {

namespace {

using nlohmann::json;

constexpr size_t kMaxPlaintext = 4096;
constexpr size_t kMaxBlob = 64 * 1024;

std::string CorrelationId() {
  uint8_t b[16];
  randombytes_buf(b, sizeof b);
  b[6] = uint8_t((b[6] & 0x0f) | 0x40);
  b[8] = uint8_t((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                "%02x%02x%02x%02x%02x%02x",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

bool IsBase64Text(std::span<const uint8_t> s) {
  for (uint8_t c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!ok) return false;
  }
  return !s.empty();
}

// The first error of a Key Protect error body: errorMsg and reason code.
void ErrorDetails(const std::string& body, std::string* msg,
                  std::string* code) {
  json j = json::parse(body, nullptr, false);
  const json* res = JsonField(j, "resources");
  if (res == nullptr || !res->is_array() || res->empty()) return;
  const json& first = (*res)[0];
  if (const std::string* m = JsonString(first, "errorMsg")) *msg = *m;
  const json* reasons = JsonField(first, "reasons");
  if (reasons != nullptr && reasons->is_array() && !reasons->empty()) {
    if (const std::string* c = JsonString((*reasons)[0], "code")) *code = *c;
  }
}

class KeyProtectClient : public KmsClient {
 public:
  KeyProtectClient(std::string uri, std::string base, std::string key_id,
                   std::string instance, std::string token_file,
                   SecureBuffer auth_header, std::unique_ptr<HttpClient> http,
                   std::unique_ptr<IamTokenSource> iam)
      : uri_(std::move(uri)),
        base_(std::move(base)),
        key_id_(std::move(key_id)),
        instance_(std::move(instance)),
        token_file_(std::move(token_file)),
        auth_header_(std::move(auth_header)),
        http_(std::move(http)),
        iam_(std::move(iam)) {}

  const std::string& uri() const override { return uri_; }
  const std::string& key_id() const override { return key_id_; }

  Result<std::vector<uint8_t>> Wrap(
      std::span<const uint8_t> plaintext) override {
    if (plaintext.empty() || plaintext.size() > kMaxPlaintext) {
      return Status::InvalidArgument(uri_ + ": wrap: plaintext must be 1..4096 "
                                            "bytes");
    }
    std::string b64 = crypto::Base64Encode(plaintext);
    std::string body = "{\"plaintext\":\"" + b64 + "\"}";
    WipeString(b64);
    Result<HttpResponse> r = Call("POST", KeyUrl() + "/actions/wrap", body,
                                  "wrap");
    WipeString(body);
    if (!r.ok()) return r.status();
    LUKSFS_ASSIGN_OR_RETURN(json j, ParseJson(r->body, uri_ + ": wrap"));
    const std::string* ct = JsonString(j, "ciphertext");
    if (ct == nullptr || ct->size() > kMaxBlob ||
        !IsBase64Text({reinterpret_cast<const uint8_t*>(ct->data()),
                       ct->size()})) {
      return Status::Corruption(uri_ + ": wrap: no valid \"ciphertext\" in "
                                       "the response");
    }
    return std::vector<uint8_t>(ct->begin(), ct->end());
  }

  Result<SecureBuffer> Unwrap(std::span<const uint8_t> wrapped) override {
    if (wrapped.size() > kMaxBlob || !IsBase64Text(wrapped)) {
      return Status::Corruption(uri_ + ": not a Key Protect wrapped key "
                                       "(Base64 ciphertext)");
    }
    std::string body = "{\"ciphertext\":\"" +
                       std::string(wrapped.begin(), wrapped.end()) + "\"}";
    LUKSFS_ASSIGN_OR_RETURN(
        HttpResponse r, Call("POST", KeyUrl() + "/actions/unwrap", body,
                             "unwrap"));
    Result<json> j = ParseJson(r.body, uri_ + ": unwrap");
    WipeString(r.body);
    if (!j.ok()) return j.status();
    Result<SecureBuffer> out = DecodePlaintext(*j);
    WipeJson(*j);
    return out;
  }

  // POST .../actions/rewrap {"ciphertext"} -> {"ciphertext", "keyVersion"}:
  // the WDEK under the root key's newest version (after "rotate").
  Result<std::vector<uint8_t>> Rewrap(std::span<const uint8_t> wrapped) override {
    if (wrapped.size() > kMaxBlob || !IsBase64Text(wrapped)) {
      return Status::Corruption(uri_ + ": not a Key Protect wrapped key "
                                       "(Base64 ciphertext)");
    }
    std::string body = "{\"ciphertext\":\"" +
                       std::string(wrapped.begin(), wrapped.end()) + "\"}";
    LUKSFS_ASSIGN_OR_RETURN(
        HttpResponse r, Call("POST", KeyUrl() + "/actions/rewrap", body,
                             "rewrap"));
    LUKSFS_ASSIGN_OR_RETURN(json j, ParseJson(r.body, uri_ + ": rewrap"));
    const std::string* ct = JsonString(j, "ciphertext");
    if (ct == nullptr || ct->size() > kMaxBlob ||
        !IsBase64Text({reinterpret_cast<const uint8_t*>(ct->data()),
                       ct->size()})) {
      return Status::Corruption(uri_ + ": rewrap: no valid \"ciphertext\" "
                                       "in the response");
    }
    return std::vector<uint8_t>(ct->begin(), ct->end());
  }

  Result<KeyState> State() override {
    Result<HttpResponse> r = Call("GET", KeyUrl(), "", "get key");
    if (!r.ok()) {
      // 410 Gone: deleted.
      if (r.status().code() == Status::Code::kKeyRevoked && last_status_ == 410) {
        return KeyState::kDestroyed;
      }
      return r.status();
    }
    LUKSFS_ASSIGN_OR_RETURN(json j, ParseJson(r->body, uri_ + ": get key"));
    const json* res = JsonField(j, "resources");
    const json* state = nullptr;
    if (res != nullptr && res->is_array() && !res->empty()) {
      state = JsonField((*res)[0], "state");
    }
    if (state == nullptr || !state->is_number_integer()) {
      return Status::Corruption(uri_ + ": get key: no resources[0].state");
    }
    switch (state->get<int64_t>()) {
      case 0: return KeyState::kPreActive;
      case 1: return KeyState::kActive;
      case 2: return KeyState::kSuspended;
      case 3: return KeyState::kDeactivated;
      case 5: return KeyState::kDestroyed;
      default:
        return Status::Corruption(uri_ + ": get key: unknown state " +
                                  state->dump());
    }
  }

  Status Revoke(std::string_view /*reason*/) override {
    Result<HttpResponse> r =
        Call("POST", KeyUrl() + "/actions/disable", "", "disable");
    if (r.ok()) return Status::Ok();
    if (r.status().code() != Status::Code::kKeyRevoked) return r.status();
    // Already disabled (409) or deleted (410): revoked either way.
    Result<KeyState> s = State();
    if (s.ok() && !KeyUsable(*s)) return Status::Ok();
    return r.status();
  }

  Status Destroy() override {
    Result<HttpResponse> r = Call("DELETE", KeyUrl(), "", "delete");
    if (r.ok()) return Status::Ok();
    if (last_status_ == 410) return Status::Ok();  // already deleted
    return r.status();
  }

 private:
  std::string KeyUrl() const { return base_ + "/api/v2/keys/" + key_id_; }

  Result<SecureBuffer> DecodePlaintext(const json& j) {
    const std::string* pt = JsonString(j, "plaintext");
    if (pt == nullptr) {
      return Status::Corruption(uri_ + ": unwrap: no \"plaintext\" in the "
                                       "response");
    }
    Result<std::vector<uint8_t>> raw = crypto::Base64Decode(*pt);
    if (!raw.ok()) {
      return Status::Corruption(uri_ + ": unwrap: \"plaintext\" is not "
                                       "Base64");
    }
    Result<SecureBuffer> out = SecureBuffer::CopyOf(*raw);
    if (!raw->empty()) SecureWipe(raw->data(), raw->size());
    if (out.ok() && out->empty()) {
      return Status::Corruption(uri_ + ": unwrap: empty plaintext");
    }
    return out;
  }

  // Sends one request; a 2xx response is returned, anything else mapped.
  Result<HttpResponse> Call(std::string_view method, const std::string& url,
                            std::string_view body, std::string_view op) {
    bool reloaded = false;
    for (;;) {
      const SecureBuffer* auth = &auth_header_;
      if (iam_) {
        LUKSFS_ASSIGN_OR_RETURN(auth, iam_->AuthHeader());
      }
      std::vector<std::string> headers = {
          "accept: application/json", "bluemix-instance: " + instance_,
          "correlation-id: " + CorrelationId()};
      if (method == "POST") {
        headers.push_back("content-type: application/vnd.ibm.kms.key_action+json");
      }
      if (method == "DELETE") headers.push_back("prefer: return=minimal");
      last_status_ = 0;
      LUKSFS_ASSIGN_OR_RETURN(
          HttpResponse r,
          http_->Send(method, url, headers, auth, body));
      last_status_ = r.status;
      if (r.status >= 200 && r.status < 300) return r;
      if (r.status == 401 && iam_ && !reloaded) {
        // The token expired early or was revoked: exchange the key again.
        iam_->Invalidate();
        reloaded = true;
        WipeString(r.body);
        continue;
      }
      if (r.status == 401 && !token_file_.empty() && !reloaded) {
        // The IAM token may have been renewed in the file meanwhile.
        KmsOptions o;
        o.token_file = token_file_;
        Result<SecureBuffer> t = LoadToken(o, "", "Key Protect");
        if (t.ok()) {
          Result<SecureBuffer> h = MakeAuthHeader(*t);
          if (h.ok()) {
            auth_header_ = std::move(h).value();
            reloaded = true;
            WipeString(r.body);
            continue;
          }
        }
      }
      Status s = MapError(r, op);
      WipeString(r.body);
      return s;
    }
  }

  Status MapError(const HttpResponse& r, std::string_view op) const {
    std::string msg, code;
    ErrorDetails(r.body, &msg, &code);
    std::string where = uri_ + ": " + std::string(op) + ": HTTP " +
                        std::to_string(r.status);
    if (!code.empty()) where += " " + CleanServerText(code);
    if (!msg.empty()) where += ": " + CleanServerText(msg);
    switch (r.status) {
      case 400:
        if (code == "BEARER_SUB_EXTRACTION_ERR") {
          return Status::PermissionDenied(where + " (bad token)");
        }
        if (code == "KEY_EXPIRED_ERR") return Status::KeyRevoked(where);
        return Status::InvalidArgument(where);
      case 401:
      case 403:
        return Status::PermissionDenied(where);
      case 404:
        return Status::NotFound(where + " (no such key)");
      case 409:
        if (code.empty() || code == "KEY_ACTION_INVALID_STATE_ERR") {
          return Status::KeyRevoked(where + " (key is not active: disabled "
                                            "or revoked)");
        }
        return Status::Unavailable(where);
      case 410:
        return Status::KeyRevoked(where + " (key has been deleted)");
      case 422:
        if (code == "KEY_INVALID_STATE_ERR") return Status::KeyRevoked(where);
        return Status::Corruption(where + " (ciphertext rejected)");
      default:
        if (r.status == 429 || r.status >= 500) {
          return Status::Unavailable(where);
        }
        return Status::Corruption(where + " (unexpected status)");
    }
  }

 public:
  static Result<SecureBuffer> MakeAuthHeader(const SecureBuffer& token) {
    bool has_bearer = token.size() > 7 &&
                      strncasecmp(reinterpret_cast<const char*>(token.data()),
                                  "Bearer ", 7) == 0;
    return SecretHeader(has_bearer ? "authorization: "
                                   : "authorization: Bearer ",
                        token);
  }

 private:
  const std::string uri_;
  const std::string base_;
  const std::string key_id_;
  const std::string instance_;
  const std::string token_file_;
  SecureBuffer auth_header_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<IamTokenSource> iam_;  // API key mode; else auth_header_
  long last_status_ = 0;  // HTTP status of the last response, 0 if none
};

}  // namespace

Result<std::unique_ptr<KmsClient>> OpenKeyProtect(std::string_view uri,
                                                  const KmsOptions& options) {
  LUKSFS_ASSIGN_OR_RETURN(RestUri u, ParseRestUri(uri, "kp"));
  if (!ValidPathSegment(u.path)) {
    return Status::InvalidArgument(
        "expected kp+https://HOST[:PORT]/KEY-ID (id or alias: "
        "A-Z a-z 0-9 . _ -)");
  }
  if (options.instance_id.empty()) {
    return Status::InvalidArgument(
        std::string(uri) + ": Key Protect needs the service instance id "
                           "(bluemix-instance)");
  }
  for (char c : options.instance_id) {
    if (c < 0x21 || c > 0x7e) {
      return Status::InvalidArgument("Key Protect instance id: bad character");
    }
  }
  SecureBuffer header;
  std::unique_ptr<IamTokenSource> iam;
  if (!options.api_key_file.empty()) {
    if (!options.token_file.empty()) {
      return Status::InvalidArgument(
          "Key Protect: give an API key file or a token file, not both");
    }
    HttpOptions io;
    io.ca_file = options.ca_file;  // not the pin: IAM is another server
    io.timeout_ms = options.timeout_ms;
    LUKSFS_ASSIGN_OR_RETURN(iam, IamTokenSource::Create(options.api_key_file,
                                                        options.iam_endpoint,
                                                        io));
  } else {
    LUKSFS_ASSIGN_OR_RETURN(
        SecureBuffer token, LoadToken(options, "LUKSFS_KP_TOKEN", "Key Protect"));
    LUKSFS_ASSIGN_OR_RETURN(header, KeyProtectClient::MakeAuthHeader(token));
  }
  HttpOptions ho;
  ho.ca_file = options.ca_file;
  ho.fingerprint = options.fingerprint;
  ho.timeout_ms = options.timeout_ms;
  LUKSFS_ASSIGN_OR_RETURN(auto http, HttpClient::Create(ho));
  return std::unique_ptr<KmsClient>(new KeyProtectClient(
      std::string(uri), u.base, u.path, options.instance_id,
      options.token_file, std::move(header), std::move(http), std::move(iam)));
}

}  // namespace luksfs::kms
