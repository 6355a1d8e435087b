#include "kms-client/kmip_client.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>

#include "common/log.h"
#include "common/secret_file.h"
#include "kms-client/kmip_blob.h"
#include "kms-client/kmip_messages.h"
#include "kms-client/kmip_tags.h"
#include "kms-client/ttlv.h"

namespace luksfs::kms {
namespace {

namespace tag = kmip::tag;
namespace op = kmip::op;
namespace reason = kmip::reason;
using kmip::Response;

constexpr size_t kMaxPasswordBytes = 4096;

// The first line of `path` (without "\n" / "\r\n"), in locked memory.
Result<SecureBuffer> ReadPasswordFile(const std::string& path) {
  return ReadSecretFile(path, "KMIP password file", SecretFormat::kFirstLineCrlf,
                        kMaxPasswordBytes);
}

Result<KeyState> MapState(uint32_t s) {
  switch (s) {
    case kmip::state::kPreActive:
      return KeyState::kPreActive;
    case kmip::state::kActive:
      return KeyState::kActive;
    case kmip::state::kDeactivated:
      return KeyState::kDeactivated;
    case kmip::state::kCompromised:
      return KeyState::kCompromised;
    case kmip::state::kDestroyed:
    case kmip::state::kDestroyedCompromised:
      return KeyState::kDestroyed;
  }
  return Status::Corruption("KMIP server reported unknown key state " +
                            std::to_string(s));
}

bool ContainsNoCase(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                        [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) ==
                                 std::tolower(static_cast<unsigned char>(b));
                        });
  return it != hay.end();
}

class KmipClient final : public KmsClient {
 public:
  KmipClient(std::string uri, KmipUri parsed, std::unique_ptr<TlsClient> tls,
             int timeout_ms, std::string username, SecureBuffer password)
      : uri_(std::move(uri)),
        parsed_(std::move(parsed)),
        tls_(std::move(tls)),
        timeout_ms_(timeout_ms),
        username_(std::move(username)),
        password_(std::move(password)),
        local_(parsed_.mode == KmipMode::kLocal) {}

  const std::string& uri() const override { return uri_; }
  const std::string& key_id() const override { return parsed_.key_id; }

  Result<std::vector<uint8_t>> Wrap(std::span<const uint8_t> pt) override;
  Result<SecureBuffer> Unwrap(std::span<const uint8_t> wrapped) override;
  Result<KeyState> State() override;
  Status Revoke(std::string_view reason) override;
  Status Destroy() override;
  Status RecordUse(const NewKeyAttributes& use) override;

  // One request/response round trip. Returns the parsed response whatever
  // its Result Status; errors are transport or framing failures.
  Result<Response> Call(uint32_t operation, const TtlvItem& payload);
  // The Status for a failed response to `operation` on the key.
  Status Failure(const Response& r, uint32_t operation);
  // Create (for CreateKmipKey): uid of the new key.
  Result<std::string> CreateKey(const NewKeyAttributes& attributes);
  Status Activate(std::string_view uid);
  void MarkSeen() { seen_ = true; }
  // Add Attribute of each non-empty Text String attribute, in order. A
  // server that refuses one gets a warning and no further attempts; only
  // transport errors are returned.
  Status AddTextAttributes(
      std::string_view uid,
      const std::vector<std::pair<std::string, std::string>>& attributes);

 private:
  std::string Who() const {
    const std::string where =
        conn_ ? " on " + conn_->endpoint().ToString() : std::string();
    if (parsed_.key_id.empty()) return "KMIP server" + where;
    return "KMIP key '" + parsed_.key_id + "'" + where;
  }
  Result<Response> RoundTrip(uint32_t operation, const TtlvItem& payload);
  // Discover Versions (1.1 header): the highest of 1.4 down to 1.0 the
  // server lists. A server without Discover Versions (Operation Not
  // Supported) is taken to speak 1.1; one that cannot parse a 1.1 header
  // (Invalid Message), 1.0. Errors: transport, or no common version
  // (kNotSupported).
  Result<kmip::ProtocolVersion> NegotiateVersion();
  Result<uint32_t> KmipState();
  // After Permission Denied on a key operation: revoked or policy?
  Status DeniedOrRevoked(const Response& r, uint32_t operation);
  Result<SecureBuffer> GetActiveKey();
  // `expected`: the server's KMIP version has no AES-GCM (a debug line,
  // not a warning: this is how 1.1-1.3 servers are used).
  Status SwitchToLocal(const std::string& why, bool expected = false);

  const std::string uri_;
  const KmipUri parsed_;
  const std::unique_ptr<TlsClient> tls_;
  const int timeout_ms_;
  const std::string username_;
  const SecureBuffer password_;
  std::unique_ptr<TlsConnection> conn_;
  kmip::ProtocolVersion version_{1, 4};
  bool downgraded_ = false;
  bool local_;         // local mode: asked for, or fallen back to
  bool seen_ = false;  // this client has seen the key exist
};

Result<Response> KmipClient::RoundTrip(uint32_t operation,
                                       const TtlvItem& payload) {
  kmip::Credential cred{username_, password_.span()};
  TtlvItem request = kmip::BuildRequest(version_, operation, payload,
                                        username_.empty() ? nullptr : &cred);
  LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, EncodeTtlv(request));
  const Deadline deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  Status s = conn_->WriteAll(bytes, deadline);
  SecureWipe(bytes.data(), bytes.size());
  LUKSFS_RETURN_IF_ERROR(s);
  uint8_t header[kTtlvHeaderSize];
  LUKSFS_RETURN_IF_ERROR(conn_->ReadExact(header, deadline));
  LUKSFS_ASSIGN_OR_RETURN(size_t body, TtlvBodyLength(header));
  std::vector<uint8_t> message(kTtlvHeaderSize + body);
  std::copy(header, header + kTtlvHeaderSize, message.begin());
  s = conn_->ReadExact(std::span(message).subspan(kTtlvHeaderSize), deadline);
  if (!s.ok()) return s;
  Result<TtlvItem> tree = DecodeTtlv(message);
  SecureWipe(message.data(), message.size());
  if (!tree.ok()) {
    return tree.status().WithContext("KMIP server " +
                                     conn_->endpoint().ToString());
  }
  return kmip::ParseResponse(*tree, operation);
}

Result<kmip::ProtocolVersion> KmipClient::NegotiateVersion() {
  const kmip::ProtocolVersion saved = version_;
  version_ = {1, 1};
  Result<Response> r = RoundTrip(op::kDiscoverVersions, TtlvItem::Structure(0));
  version_ = saved;
  if (!r.ok()) {
    conn_.reset();
    return r.status();
  }
  if (!r->ok()) {
    if (r->result_reason == reason::kOperationNotSupported) {
      return kmip::ProtocolVersion{1, 1};
    }
    if (r->result_reason == reason::kInvalidMessage) {
      return kmip::ProtocolVersion{1, 0};
    }
    return Failure(*r, op::kDiscoverVersions);
  }
  if (!r->payload) return Failure(*r, op::kDiscoverVersions);
  kmip::ProtocolVersion best{0, 0};
  for (const TtlvItem* v : r->payload->FindAll(tag::kProtocolVersion)) {
    const TtlvItem* major = v->Find(tag::kProtocolVersionMajor);
    const TtlvItem* minor = v->Find(tag::kProtocolVersionMinor);
    if (major == nullptr || minor == nullptr || major->integer != 1) continue;
    if (minor->integer >= 0 && minor->integer <= 4 &&
        (best.major == 0 || minor->integer > best.minor)) {
      best = {1, static_cast<int>(minor->integer)};
    }
  }
  if (best.major == 0) {
    return Status::NotSupported("KMIP server " + conn_->endpoint().ToString() +
                                " supports none of KMIP 1.0-1.4");
  }
  return best;
}

Result<Response> KmipClient::Call(uint32_t operation, const TtlvItem& payload) {
  for (int attempt = 0;; ++attempt) {
    const bool reused = conn_ != nullptr;
    if (!conn_) {
      LUKSFS_ASSIGN_OR_RETURN(conn_, tls_->Connect(parsed_.endpoints));
    }
    Result<Response> r = RoundTrip(operation, payload);
    if (!r.ok()) {
      conn_.reset();  // the stream is in an unknown state
      // A kept-alive connection the server dropped: reconnect once. Create
      // is not retried (it might have been done).
      if (reused && attempt == 0 && operation != op::kCreate &&
          r.status().code() == Status::Code::kUnavailable) {
        continue;
      }
      return r.status();
    }
    // A server that does not speak 1.4 may reject the whole message, and
    // may echo our version while doing so (PyKMIP answers a header version
    // it lacks, and any unparseable request, with Invalid Message): ask it
    // with Discover Versions, once per client.
    if (!r->ok() && !downgraded_ &&
        (r->result_reason == reason::kInvalidMessage ||
         r->result_reason == reason::kOperationNotSupported)) {
      downgraded_ = true;  // probe once per client
      Result<kmip::ProtocolVersion> v = NegotiateVersion();
      if (!v.ok() || !(*v == version_)) {
        if (!v.ok() && v.status().code() == Status::Code::kUnavailable) {
          return v.status();
        }
        version_ = v.ok() ? *v : kmip::ProtocolVersion{1, 1};
        const std::string where =
            conn_ ? conn_->endpoint().ToString() : std::string("server");
        LogDebug("KMIP server " + where +
                   " does not speak KMIP 1.4; using KMIP " +
                   std::to_string(version_.major) + "." +
                   std::to_string(version_.minor) +
                   (version_.minor < 4 ? " (local mode: Get + local AES-GCM)"
                                       : ""));
        continue;
      }
    }
    return r;
  }
}

Status KmipClient::Failure(const Response& r, uint32_t operation) {
  const std::string what =
      kmip::OperationName(operation) + " of " + Who() +
      " failed: " + kmip::ReasonName(r.result_reason) +
      (r.result_message.empty() ? std::string()
                                : " (\"" + r.result_message + "\")");
  if (r.result_status == kmip::status::kOperationPending) {
    return Status::Unavailable(what +
                               ": asynchronous operations are not "
                               "supported");
  }
  switch (r.result_reason) {
    case reason::kItemNotFound:
      if (seen_) {
        return Status::KeyRevoked(what + ": the key was destroyed");
      }
      return Status::NotFound(what +
                              ": no such key (destroyed, or never existed)");
    case reason::kAuthenticationNotSuccessful:
      return Status::PermissionDenied(
          what +
          ": the server did not accept this client (client "
          "certificate, its clientAuth usage, or username/password)");
    case reason::kPermissionDenied:
      return Status::PermissionDenied(what);
    case reason::kOperationNotSupported:
    case reason::kFeatureNotSupported:
    case reason::kInvalidField:
    case reason::kInvalidMessage:
    case reason::kMissingData:
    case reason::kKeyFormatTypeNotSupported:
      return Status::NotSupported(what);
    case reason::kIllegalOperation:
      return Status::InvalidArgument(what);
    default:
      return Status::Unavailable(what);
  }
}

Result<uint32_t> KmipClient::KmipState() {
  LUKSFS_ASSIGN_OR_RETURN(
      Response r, Call(op::kGetAttributes,
                       kmip::GetAttributesPayload(parsed_.key_id, {"State"})));
  if (!r.ok()) return Failure(r, op::kGetAttributes);
  LUKSFS_ASSIGN_OR_RETURN(uint32_t s, kmip::ParseStateAttribute(r));
  seen_ = true;
  return s;
}

Status KmipClient::DeniedOrRevoked(const Response& r, uint32_t operation) {
  Status denied = Failure(r, operation);
  Result<uint32_t> s = KmipState();
  if (s.ok() && *s != kmip::state::kActive) {
    return Status::KeyRevoked(Who() + " is " + kmip::StateName(*s) +
                              ": the KMS refuses to use it (" +
                              kmip::OperationName(operation) + ": " +
                              kmip::ReasonName(r.result_reason) + ")");
  }
  if (!s.ok() && s.status().code() == Status::Code::kKeyRevoked) {
    return s.status();
  }
  return denied;
}

Status KmipClient::SwitchToLocal(const std::string& why, bool expected) {
  if (parsed_.mode_given && parsed_.mode == KmipMode::kServer) {
    return Status::NotSupported(why + "; the URI asks for mode=server");
  }
  const std::string line =
      why + "; using local mode (KMIP Get + local AES-GCM) for " + Who();
  if (expected) {
    LogDebug(line);
  } else {
    LogWarning(line);
  }
  local_ = true;
  return Status();
}

Result<SecureBuffer> KmipClient::GetActiveKey() {
  LUKSFS_ASSIGN_OR_RETURN(uint32_t s, KmipState());
  if (s != kmip::state::kActive) {
    return Status::KeyRevoked(
        Who() + " is " + kmip::StateName(s) +
        ": refusing to use its key material (only Active keys are used; a "
        "revoked key counts as crypto-shredded)");
  }
  LUKSFS_ASSIGN_OR_RETURN(Response r,
                          Call(op::kGet, kmip::UidPayload(parsed_.key_id)));
  if (!r.ok()) {
    if (r.result_reason == reason::kPermissionDenied) {
      return DeniedOrRevoked(r, op::kGet);
    }
    return Failure(r, op::kGet);
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key, kmip::ParseSymmetricKey(r));
  if (key.size() != 32) {
    return Status::NotSupported(Who() + " is a " +
                                std::to_string(key.size() * 8) +
                                "-bit key; local mode needs AES-256");
  }
  return key;
}

Result<std::vector<uint8_t>> KmipClient::Wrap(std::span<const uint8_t> pt) {
  if (pt.empty() || pt.size() > kmip::kMaxWrapPlaintext) {
    return Status::InvalidArgument("KMIP wrap: secret must be 1..4096 bytes");
  }
  if (!local_ && version_.minor < 4) {
    LUKSFS_RETURN_IF_ERROR(SwitchToLocal(
        "server-side AES-GCM needs KMIP 1.4, the server speaks " +
        std::to_string(version_.major) + "." + std::to_string(version_.minor),
        /*expected=*/true));
  }
  if (!local_) {
    LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> iv, kmip::RandomIv());
    const std::vector<uint8_t> aad = kmip::BlobHeader(kmip::BlobMode::kServer);
    LUKSFS_ASSIGN_OR_RETURN(
        Response r,
        Call(op::kEncrypt, kmip::EncryptGcmPayload(parsed_.key_id, pt, iv, aad,
                                                   kmip::kBlobTagSize)));
    if (r.ok()) {
      LUKSFS_ASSIGN_OR_RETURN(kmip::EncryptResult e, kmip::ParseEncrypt(r));
      seen_ = true;
      if (e.tag.size() == kmip::kBlobTagSize && e.data.size() == pt.size()) {
        return kmip::AssembleBlob(kmip::BlobMode::kServer, iv, e.tag, e.data);
      }
      LUKSFS_RETURN_IF_ERROR(SwitchToLocal(
          "KMIP server returned no usable AES-GCM tag for Encrypt"));
    } else if (r.result_reason == reason::kPermissionDenied) {
      return DeniedOrRevoked(r, op::kEncrypt);
    } else if (version_.minor < 4) {
      LUKSFS_RETURN_IF_ERROR(SwitchToLocal(
          "server-side AES-GCM needs KMIP 1.4, the server speaks " +
          std::to_string(version_.major) + "." +
          std::to_string(version_.minor), /*expected=*/true));
    } else if (r.result_reason == reason::kOperationNotSupported ||
               r.result_reason == reason::kFeatureNotSupported) {
      LUKSFS_RETURN_IF_ERROR(
          SwitchToLocal("KMIP server does not support Encrypt (" +
                        kmip::ReasonName(r.result_reason) + ")"));
    } else {
      return Failure(r, op::kEncrypt);
    }
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key, GetActiveKey());
  return kmip::WrapLocal(key, pt);
}

Result<SecureBuffer> KmipClient::Unwrap(std::span<const uint8_t> wrapped) {
  LUKSFS_ASSIGN_OR_RETURN(kmip::BlobView blob, kmip::ParseBlob(wrapped));
  if (!local_ && version_.minor < 4) {
    LUKSFS_RETURN_IF_ERROR(SwitchToLocal(
        "server-side AES-GCM needs KMIP 1.4, the server speaks " +
        std::to_string(version_.major) + "." + std::to_string(version_.minor),
        /*expected=*/true));
  }
  if (!local_) {
    LUKSFS_ASSIGN_OR_RETURN(
        Response r, Call(op::kDecrypt, kmip::DecryptGcmPayload(
                                           parsed_.key_id, blob.ciphertext,
                                           blob.iv, blob.header, blob.tag)));
    if (r.ok()) {
      LUKSFS_ASSIGN_OR_RETURN(SecureBuffer pt, kmip::ParseDecrypt(r));
      if (pt.size() != blob.ciphertext.size()) {
        return Status::Corruption(Who() + ": Decrypt returned " +
                                  std::to_string(pt.size()) + " bytes, want " +
                                  std::to_string(blob.ciphertext.size()));
      }
      seen_ = true;
      return pt;
    }
    if (version_.minor < 4 && r.result_reason != reason::kPermissionDenied) {
      LUKSFS_RETURN_IF_ERROR(SwitchToLocal(
          "server-side AES-GCM needs KMIP 1.4, the server speaks " +
          std::to_string(version_.major) + "." +
          std::to_string(version_.minor), /*expected=*/true));
      r.result_reason = reason::kOperationNotSupported;
    }
    switch (r.result_reason) {
      case reason::kPermissionDenied:
        return DeniedOrRevoked(r, op::kDecrypt);
      case reason::kOperationNotSupported:
      case reason::kFeatureNotSupported:
        if (!local_) {
          LUKSFS_RETURN_IF_ERROR(
              SwitchToLocal("KMIP server does not support Decrypt (" +
                            kmip::ReasonName(r.result_reason) + ")"));
        }
        break;
      case reason::kGeneralFailure:
      case reason::kCryptographicFailure:
        return Status::Corruption(
            "the wrapped secret does not authenticate under " + Who() +
            " (server: " + kmip::ReasonName(r.result_reason) +
            "): wrong key, or the blob was altered");
      default:
        return Failure(r, op::kDecrypt);
    }
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key, GetActiveKey());
  Result<SecureBuffer> pt = kmip::UnwrapLocal(key, wrapped);
  if (!pt.ok()) return pt.status().WithContext(Who());
  return pt;
}

Result<KeyState> KmipClient::State() {
  Result<uint32_t> s = KmipState();
  if (!s.ok()) {
    // Failure() maps Item Not Found on a key seen before to kKeyRevoked.
    if (s.status().code() == Status::Code::kKeyRevoked) {
      return KeyState::kDestroyed;
    }
    return s.status();
  }
  return MapState(*s);
}

Status KmipClient::Revoke(std::string_view why) {
  const uint32_t code = ContainsNoCase(why, "compromise")
                            ? kmip::kRevokeKeyCompromise
                            : kmip::kRevokeCessationOfOperation;
  const std::string message(why.substr(0, 200));
  LUKSFS_ASSIGN_OR_RETURN(
      Response r,
      Call(op::kRevoke,
           kmip::RevokePayload(parsed_.key_id, code, message, time(nullptr))));
  if (r.ok()) {
    seen_ = true;
    return Status();
  }
  if (r.result_reason == reason::kIllegalOperation) {
    // PyKMIP: Cessation of Operation on a key that is not Active.
    Result<uint32_t> s = KmipState();
    if (s.ok() && *s != kmip::state::kActive && *s != kmip::state::kPreActive) {
      return Status();  // already revoked
    }
  }
  return Failure(r, op::kRevoke);
}

Status KmipClient::Destroy() {
  Result<uint32_t> s = KmipState();
  if (!s.ok()) {
    if (s.status().code() == Status::Code::kKeyRevoked) return Status();
    return s.status();
  }
  if (*s == kmip::state::kActive) {
    LUKSFS_RETURN_IF_ERROR(Revoke("destroyed by luksfs"));
  }
  LUKSFS_ASSIGN_OR_RETURN(Response r,
                          Call(op::kDestroy, kmip::UidPayload(parsed_.key_id)));
  if (!r.ok()) return Failure(r, op::kDestroy);
  return Status();
}

Status KmipClient::AddTextAttributes(
    std::string_view uid,
    const std::vector<std::pair<std::string, std::string>>& attributes) {
  for (const auto& [name, value] : attributes) {
    if (value.empty()) continue;
    LUKSFS_ASSIGN_OR_RETURN(
        Response r,
        Call(op::kAddAttribute, kmip::AddTextAttributePayload(uid, name, value)));
    if (!r.ok()) {
      LogWarning("KMIP server does not store custom attribute " + name +
                 " on key '" + std::string(uid) + "' (" +
                 kmip::ReasonName(r.result_reason) +
                 "); the key works without it");
      return Status();
    }
  }
  return Status();
}

// vCenter's sequence (Standard Key Provider, as captured on the wire): Create
// an AES-256 key with usage Encrypt|Decrypt, Get Attributes, then Add
// Attribute x-Vendor, x-Product, x-Product_Version. Nothing here needs more
// than KMIP 1.1. The Name attribute is luksfs's own addition (operators find
// keys by it); x-Component, x-Name and x-Identifier follow at first use
// (RecordUse).
Result<std::string> KmipClient::CreateKey(const NewKeyAttributes& a) {
  kmip::CreateParams params;
  params.name = a.name;
  LUKSFS_ASSIGN_OR_RETURN(Response r,
                          Call(op::kCreate, kmip::CreatePayload(params)));
  if (!r.ok()) return Failure(r, op::kCreate);
  LUKSFS_ASSIGN_OR_RETURN(std::string uid, kmip::ParseUid(r));
  LUKSFS_ASSIGN_OR_RETURN(
      Response ga,
      Call(op::kGetAttributes,
           kmip::GetAttributesPayload(uid, {"State", "x-Product_Version"})));
  if (!ga.ok()) {
    LogWarning("KMIP Get Attributes of new key '" + uid + "' failed (" +
               kmip::ReasonName(ga.result_reason) + ")");
  }
  LUKSFS_RETURN_IF_ERROR(AddTextAttributes(
      uid, {{"x-Vendor", a.vendor},
            {"x-Product", a.product},
            {"x-Product_Version", a.product_version}}));
  return uid;
}

Status KmipClient::RecordUse(const NewKeyAttributes& use) {
  return AddTextAttributes(parsed_.key_id, {{"x-Component", use.component},
                                            {"x-Name", use.name},
                                            {"x-Identifier", use.identifier}});
}

Status KmipClient::Activate(std::string_view uid) {
  LUKSFS_ASSIGN_OR_RETURN(Response r,
                          Call(op::kActivate, kmip::UidPayload(uid)));
  if (!r.ok()) return Failure(r, op::kActivate);
  return Status();
}

Result<std::unique_ptr<KmipClient>> MakeClient(std::string_view uri,
                                               const KmipUri& parsed,
                                               const KmsOptions& o) {
  TlsOptions tls;
  tls.ca_file = o.ca_file;
  if (!o.fingerprint.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(tls.pins, ParseFingerprints(o.fingerprint));
  }
  tls.client_cert_file = o.client_cert_file;
  tls.client_key_file = o.client_key_file;
  if (o.timeout_ms <= 0) {
    return Status::InvalidArgument("KMIP timeout must be positive");
  }
  tls.timeout_ms = o.timeout_ms;
  if (!o.password_file.empty() && o.username.empty()) {
    return Status::InvalidArgument(
        "KMIP password file given without a username");
  }
  SecureBuffer password;
  if (!o.password_file.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(password, ReadPasswordFile(o.password_file));
  }
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<TlsClient> client,
                          TlsClient::Create(tls));
  return std::make_unique<KmipClient>(std::string(uri), parsed,
                                      std::move(client), o.timeout_ms,
                                      o.username, std::move(password));
}

}  // namespace

Result<std::unique_ptr<KmsClient>> OpenKmipClient(std::string_view uri,
                                                  const KmsOptions& options) {
  LUKSFS_ASSIGN_OR_RETURN(KmipUri parsed, ParseKmipUri(uri));
  if (parsed.key_id.empty()) {
    return Status::InvalidArgument("no key id after the server list");
  }
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<KmipClient> c,
                          MakeClient(uri, parsed, options));
  return std::unique_ptr<KmsClient>(std::move(c));
}

Result<std::string> CreateKmipKey(std::string_view uri,
                                  const KmsOptions& options,
                                  const NewKeyAttributes& attributes) {
  LUKSFS_ASSIGN_OR_RETURN(KmipUri parsed, ParseKmipUri(uri));
  parsed.key_id.clear();
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<KmipClient> c,
                          MakeClient(uri, parsed, options));
  LUKSFS_ASSIGN_OR_RETURN(std::string uid, c->CreateKey(attributes));
  Status s = c->Activate(uid);
  if (!s.ok()) {
    return s.WithContext("KMIP key '" + uid +
                         "' was created but not "
                         "activated");
  }
  return parsed.WithKey(uid);
}

}  // namespace luksfs::kms
