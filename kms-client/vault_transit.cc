#include "kms-client/vault_transit.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "crypto/base64.h"
#include "kms-client/http_client.h"
#include "kms-client/rest_util.h"

namespace luksfs::kms {

namespace {

using nlohmann::json;

constexpr size_t kMaxPlaintext = 4096;
constexpr size_t kMaxBlob = 64 * 1024;

struct VaultTarget {
  std::string base;   // http[s]://HOST[:PORT]
  std::string mount;  // "transit"
  std::string name;   // key name; may be empty for CreateVaultTransitKey
};

Result<VaultTarget> ParseVaultUri(std::string_view uri, bool allow_no_name) {
  LUKSFS_ASSIGN_OR_RETURN(RestUri u, ParseRestUri(uri, "vault"));
  VaultTarget t;
  t.base = u.base;
  size_t slash = u.path.rfind('/');
  Status bad = Status::InvalidArgument(
      "expected vault+https://HOST[:PORT]/MOUNT/KEY-NAME");
  if (slash == std::string::npos || slash == 0) return bad;
  t.mount = u.path.substr(0, slash);
  t.name = u.path.substr(slash + 1);
  size_t start = 0;
  for (;;) {
    size_t next = t.mount.find('/', start);
    if (!ValidPathSegment(t.mount.substr(start, next - start))) return bad;
    if (next == std::string::npos) break;
    start = next + 1;
  }
  if (t.name.empty() ? !allow_no_name : !ValidPathSegment(t.name)) return bad;
  return t;
}

// The version N of a "vault:vN:..." ciphertext, or 0 if malformed.
int64_t BlobVersion(std::string_view blob) {
  constexpr std::string_view kPrefix = "vault:v";
  if (blob.substr(0, kPrefix.size()) != kPrefix) return 0;
  int64_t v = 0;
  size_t i = kPrefix.size();
  for (; i < blob.size() && blob[i] >= '0' && blob[i] <= '9'; ++i) {
    v = v * 10 + (blob[i] - '0');
    if (v > (int64_t{1} << 40)) return 0;
  }
  if (i == kPrefix.size() || i >= blob.size() || blob[i] != ':' ||
      i + 1 == blob.size()) {
    return 0;
  }
  for (++i; i < blob.size(); ++i) {
    char c = blob[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!ok) return 0;
  }
  return v;
}

// A thin Vault API caller shared by the client and key creation.
class VaultApi {
 public:
  VaultApi(std::string uri, VaultTarget target, SecureBuffer token_header,
           std::unique_ptr<HttpClient> http)
      : uri_(std::move(uri)),
        t_(std::move(target)),
        token_header_(std::move(token_header)),
        http_(std::move(http)) {
    if (const char* ns = std::getenv("VAULT_NAMESPACE"); ns && *ns) {
      std::string_view v(ns);
      // Printable, no spaces: no header injection.
      if (std::all_of(v.begin(), v.end(),
                      [](char c) { return c >= 0x21 && c <= 0x7e; })) {
        namespace_ = v;
      }
    }
  }

  static Result<std::unique_ptr<VaultApi>> Open(std::string_view uri,
                                                const KmsOptions& options,
                                                bool allow_no_name) {
    LUKSFS_ASSIGN_OR_RETURN(VaultTarget t, ParseVaultUri(uri, allow_no_name));
    LUKSFS_ASSIGN_OR_RETURN(SecureBuffer token,
                            LoadToken(options, "VAULT_TOKEN", "Vault"));
    LUKSFS_ASSIGN_OR_RETURN(SecureBuffer header,
                            SecretHeader("X-Vault-Token: ", token));
    HttpOptions ho;
    ho.ca_file = options.ca_file;
    ho.fingerprint = options.fingerprint;
    ho.timeout_ms = options.timeout_ms;
    LUKSFS_ASSIGN_OR_RETURN(auto http, HttpClient::Create(ho));
    return std::make_unique<VaultApi>(std::string(uri), std::move(t),
                                      std::move(header), std::move(http));
  }

  const std::string& uri() const { return uri_; }
  VaultTarget& target() { return t_; }
  const VaultTarget& target() const { return t_; }
  long last_status() const { return last_status_; }

  std::string Url(std::string_view op, bool key_suffix = true) const {
    std::string u = t_.base + "/v1/" + t_.mount + "/" + std::string(op);
    if (key_suffix) u += "/" + t_.name;
    return u;
  }

  // One request; 2xx is returned, anything else mapped to a Status.
  Result<HttpResponse> Call(std::string_view method, const std::string& url,
                            std::string_view body, std::string_view op) {
    std::vector<std::string> headers = {"accept: application/json"};
    if (method == "POST") headers.push_back("content-type: application/json");
    if (!namespace_.empty()) {
      headers.push_back("X-Vault-Namespace: " + namespace_);
    }
    last_status_ = 0;
    LUKSFS_ASSIGN_OR_RETURN(
        HttpResponse r,
        http_->Send(method, url, headers, &token_header_, body));
    last_status_ = r.status;
    if (r.status >= 200 && r.status < 300) return r;
    Status s = MapError(r, op);
    WipeString(r.body);
    return s;
  }

  struct KeyInfo {
    bool exists = false;
    bool soft_deleted = false;
    int64_t latest_version = 0;
    int64_t min_decryption_version = 0;
  };

  Result<KeyInfo> ReadKey() {
    KeyInfo info;
    Result<HttpResponse> r = Call("GET", Url("keys"), "", "read key");
    if (!r.ok()) {
      if (last_status_ == 404) return info;  // no such key
      return r.status();
    }
    LUKSFS_ASSIGN_OR_RETURN(json j, ParseJson(r->body, uri_ + ": read key"));
    const json* data = JsonField(j, "data");
    const json* latest = data ? JsonField(*data, "latest_version") : nullptr;
    const json* mindec =
        data ? JsonField(*data, "min_decryption_version") : nullptr;
    if (latest == nullptr || !latest->is_number_integer() ||
        mindec == nullptr || !mindec->is_number_integer()) {
      return Status::Corruption(uri_ + ": read key: missing latest_version / "
                                       "min_decryption_version");
    }
    info.exists = true;
    info.latest_version = latest->get<int64_t>();
    info.min_decryption_version = mindec->get<int64_t>();
    const json* sd = JsonField(*data, "soft_deleted");
    info.soft_deleted = sd != nullptr && sd->is_boolean() && sd->get<bool>();
    return info;
  }

 private:
  Status MapError(const HttpResponse& r, std::string_view op) const {
    std::string where = uri_ + ": " + std::string(op) + ": HTTP " +
                        std::to_string(r.status);
    json j = json::parse(r.body, nullptr, false);
    const json* errs = JsonField(j, "errors");
    if (errs != nullptr && errs->is_array() && !errs->empty() &&
        (*errs)[0].is_string()) {
      where += ": " + CleanServerText((*errs)[0].get<std::string>());
    }
    switch (r.status) {
      case 400: return Status::InvalidArgument(where);
      case 401:
      case 403: return Status::PermissionDenied(where);
      case 404: return Status::NotFound(where + " (no such key)");
      default:
        if (r.status == 429 || r.status >= 500) {
          return Status::Unavailable(where);
        }
        return Status::Corruption(where + " (unexpected status)");
    }
  }

  const std::string uri_;
  VaultTarget t_;
  std::string namespace_;
  SecureBuffer token_header_;
  std::unique_ptr<HttpClient> http_;
  long last_status_ = 0;
};

class VaultTransitClient : public KmsClient {
 public:
  explicit VaultTransitClient(std::unique_ptr<VaultApi> api)
      : api_(std::move(api)) {}

  const std::string& uri() const override { return api_->uri(); }
  const std::string& key_id() const override { return api_->target().name; }

  Result<std::vector<uint8_t>> Wrap(
      std::span<const uint8_t> plaintext) override {
    if (plaintext.empty() || plaintext.size() > kMaxPlaintext) {
      return Status::InvalidArgument(uri() + ": wrap: plaintext must be "
                                             "1..4096 bytes");
    }
    // A token limited to encrypt/decrypt may not read the key: then skip
    // the check (without "create" it cannot upsert a key either).
    Result<VaultApi::KeyInfo> info = api_->ReadKey();
    if (!info.ok() && info.status().code() != Status::Code::kPermissionDenied) {
      return info.status();
    }
    if (info.ok() && !info->exists) {
      return Status::NotFound(uri() + ": no transit key \"" + key_id() + "\"");
    }
    if (info.ok() && info->soft_deleted) {
      return Status::KeyRevoked(uri() + ": key has been deleted");
    }
    std::string b64 = crypto::Base64Encode(plaintext);
    std::string body = "{\"plaintext\":\"" + b64 + "\"}";
    WipeString(b64);
    Result<HttpResponse> r = api_->Call("POST", api_->Url("encrypt"), body,
                                        "encrypt");
    WipeString(body);
    if (!r.ok()) return r.status();
    LUKSFS_ASSIGN_OR_RETURN(json j, ParseJson(r->body, uri() + ": encrypt"));
    const json* data = JsonField(j, "data");
    const std::string* ct = data ? JsonString(*data, "ciphertext") : nullptr;
    int64_t version = ct ? BlobVersion(*ct) : 0;
    if (version == 0 || ct->size() > kMaxBlob) {
      return Status::Corruption(uri() + ": encrypt: no valid data.ciphertext "
                                        "in the response");
    }
    seen_version_ = version;
    return std::vector<uint8_t>(ct->begin(), ct->end());
  }

  Result<SecureBuffer> Unwrap(std::span<const uint8_t> wrapped) override {
    std::string blob(wrapped.begin(), wrapped.end());
    int64_t version = wrapped.size() <= kMaxBlob ? BlobVersion(blob) : 0;
    if (version == 0) {
      return Status::Corruption(uri() + ": not a Vault transit ciphertext "
                                        "(vault:vN:...)");
    }
    seen_version_ = version;
    std::string body = "{\"ciphertext\":\"" + blob + "\"}";
    Result<HttpResponse> r = api_->Call("POST", api_->Url("decrypt"), body,
                                        "decrypt");
    if (!r.ok()) {
      if (api_->last_status() != 400) return r.status();
      return ExplainDecryptFailure(r.status(), version);
    }
    Result<json> j = ParseJson(r->body, uri() + ": decrypt");
    WipeString(r->body);
    if (!j.ok()) return j.status();
    Result<SecureBuffer> out = DecodePlaintext(*j);
    WipeJson(*j);
    return out;
  }

  Result<KeyState> State() override {
    LUKSFS_ASSIGN_OR_RETURN(VaultApi::KeyInfo info, api_->ReadKey());
    if (!info.exists || info.soft_deleted) return KeyState::kDestroyed;
    if (seen_version_ > 0 && seen_version_ < info.min_decryption_version) {
      return KeyState::kDeactivated;
    }
    return KeyState::kActive;
  }

  Status Revoke(std::string_view /*reason*/) override {
    LUKSFS_ASSIGN_OR_RETURN(VaultApi::KeyInfo before, api_->ReadKey());
    if (!before.exists) {
      return Status::NotFound(uri() + ": no transit key \"" + key_id() + "\"");
    }
    LUKSFS_RETURN_IF_ERROR(
        api_->Call("POST", api_->Url("keys") + "/rotate", "{}", "rotate")
            .status());
    LUKSFS_ASSIGN_OR_RETURN(VaultApi::KeyInfo after, api_->ReadKey());
    if (!after.exists || after.latest_version <= before.latest_version) {
      return Status::Corruption(uri() + ": rotate did not add a key version");
    }
    std::string body = "{\"min_decryption_version\":" +
                       std::to_string(after.latest_version) + "}";
    return api_->Call("POST", api_->Url("keys") + "/config", body, "config")
        .status();
  }

  Status Destroy() override {
    LUKSFS_ASSIGN_OR_RETURN(VaultApi::KeyInfo info, api_->ReadKey());
    if (!info.exists) return Status::Ok();  // already gone
    LUKSFS_RETURN_IF_ERROR(api_->Call("POST", api_->Url("keys") + "/config",
                                      "{\"deletion_allowed\":true}", "config")
                               .status());
    return api_->Call("DELETE", api_->Url("keys"), "", "delete key").status();
  }

 private:
  Status ExplainDecryptFailure(const Status& failed, int64_t version) {
    Result<VaultApi::KeyInfo> info = api_->ReadKey();
    std::string why = failed.message();
    if (!info.ok()) {
      if (info.status().code() != Status::Code::kPermissionDenied) {
        return info.status();
      }
      // Not allowed to read the key: go by Vault's error text.
      for (const char* gone : {"key not found", "policy not found",
                               "disallowed by policy", "too old"}) {
        if (why.find(gone) != std::string::npos) {
          return Status::KeyRevoked(why + " (key deleted or version retired)");
        }
      }
      return Status::Corruption(why + " (ciphertext rejected)");
    }
    if (!info->exists) {
      return Status::KeyRevoked(why + " (the key has been deleted)");
    }
    if (info->soft_deleted) {
      return Status::KeyRevoked(why + " (the key has been soft-deleted)");
    }
    if (version < info->min_decryption_version) {
      return Status::KeyRevoked(
          why + " (key version " + std::to_string(version) +
          " is below min_decryption_version " +
          std::to_string(info->min_decryption_version) + ": revoked)");
    }
    return Status::Corruption(why + " (ciphertext rejected)");
  }

  Result<SecureBuffer> DecodePlaintext(const json& j) {
    const json* data = JsonField(j, "data");
    const std::string* pt = data ? JsonString(*data, "plaintext") : nullptr;
    if (pt == nullptr) {
      return Status::Corruption(uri() + ": decrypt: no data.plaintext in the "
                                        "response");
    }
    Result<std::vector<uint8_t>> raw = crypto::Base64Decode(*pt);
    if (!raw.ok()) {
      return Status::Corruption(uri() + ": decrypt: plaintext is not Base64");
    }
    Result<SecureBuffer> out = SecureBuffer::CopyOf(*raw);
    if (!raw->empty()) SecureWipe(raw->data(), raw->size());
    if (out.ok() && out->empty()) {
      return Status::Corruption(uri() + ": decrypt: empty plaintext");
    }
    return out;
  }

  std::unique_ptr<VaultApi> api_;
  int64_t seen_version_ = 0;  // key version of the last blob seen, 0 = none
};

}  // namespace

Result<std::unique_ptr<KmsClient>> OpenVaultTransit(std::string_view uri,
                                                    const KmsOptions& options) {
  LUKSFS_ASSIGN_OR_RETURN(auto api, VaultApi::Open(uri, options, false));
  return std::unique_ptr<KmsClient>(new VaultTransitClient(std::move(api)));
}

Result<std::string> CreateVaultTransitKey(std::string_view uri,
                                          const KmsOptions& options,
                                          const NewKeyAttributes& attributes) {
  LUKSFS_ASSIGN_OR_RETURN(auto api, VaultApi::Open(uri, options, true));
  std::string key_uri(uri);
  if (api->target().name.empty()) {
    if (!ValidPathSegment(attributes.name)) {
      return Status::InvalidArgument(
          "give the new key's name in the URI "
                           "(.../MOUNT/KEY-NAME) or as the key name");
    }
    api->target().name = attributes.name;
    key_uri += attributes.name;
  }
  LUKSFS_ASSIGN_OR_RETURN(VaultApi::KeyInfo info, api->ReadKey());
  if (info.exists) {
    return Status::InvalidArgument(key_uri + ": transit key already exists");
  }
  LUKSFS_RETURN_IF_ERROR(api->Call("POST", api->Url("keys"),
                                   "{\"type\":\"aes256-gcm96\"}", "create key")
                             .status());
  return key_uri;
}

}  // namespace luksfs::kms
