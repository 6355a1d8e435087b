// KmsClient: one root key in one key management service, used to wrap and
// unwrap small secrets (the generated LUKS passphrase of an image: the
// "WDEK" flow of IBM Key Protect and VMware VM encryption), and to watch
// and change the key's state for revocation and crypto-shredding.
//
// Drivers, selected by URI scheme (see OpenKms):
//   kmip://HOST[:PORT][,HOST[:PORT]...]/KEY-UID   KMIP 1.0-1.4, mutual TLS
//   kp+https://HOST[:PORT]/KEY-ID                  IBM Key Protect (REST)
//   kp+http://...                                  (tests only)
//   vault+https://HOST[:PORT]/MOUNT/KEY-NAME       Vault transit (REST)
//   vault+http://...                               (tests only)
//   file:/PATH/TO/KEYSTORE#KEY-NAME                local keystore
//   kms-cluster:NAME/KEY-ID                        a named cluster of the
//                                                  configuration file
// A URI never carries a secret; credentials come from KmsOptions (files,
// environment variables).
//
// Thread-safety: a KmsClient may be used by one thread at a time; the
// daemon's revocation watcher owns its own instance.
// Secrets: unwrapped plaintext is returned in a SecureBuffer; tokens,
// passwords and keystore passphrases are held in SecureBuffers and never
// logged. Wrapped blobs and key ids are not secret.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::kms {

enum class KeyState {
  kPreActive,    // exists, not yet usable
  kActive,       // usable
  kSuspended,    // disabled for now (Key Protect "suspended"); unwrap refused
  kDeactivated,  // revoked / expired (KMIP Deactivated)
  kCompromised,  // revoked as compromised (KMIP)
  kDestroyed,    // gone for good (KMIP Destroyed, Key Protect deleted, 404/410)
};
const char* KeyStateName(KeyState s);
// Whether luksfs may serve plaintext under a key in this state.
inline bool KeyUsable(KeyState s) { return s == KeyState::kActive; }

struct KmsOptions {
  // TLS (KMIP, https REST).
  std::string ca_file;          // PEM bundle to trust; "" = system CAs
  std::string fingerprint;      // pinned server certificate(s): SHA-1 or
                                // SHA-256 of its DER, hex, colons optional,
                                // or openssl's "SHA1 Fingerprint=..." line;
                                // several separated by ','
  std::string client_cert_file; // PEM (KMIP mutual TLS)
  std::string client_key_file;  // PEM
  // KMIP optional Credential (username/password).
  std::string username;
  std::string password_file;
  // REST bearer token: from this file, else from this environment variable
  // (defaults: LUKSFS_KP_TOKEN / VAULT_TOKEN).
  std::string token_file;
  std::string token_env;
  std::string instance_id;      // Key Protect bluemix-instance
  // IBM IAM (Key Protect): an API key file, exchanged for bearer tokens at
  // the IAM token endpoint ("" = https://iam.cloud.ibm.com).
  std::string api_key_file;
  std::string iam_endpoint;
  // file: keystore passphrase (a file; "-" = stdin).
  std::string keystore_passphrase_file;
  // Named clusters (kms-cluster:NAME/KEY-ID): the configuration file; "" =
  // /etc/luksfs/kms.conf. See kms_config.h.
  std::string kms_config;
  int timeout_ms = 10000;       // per request
};

struct NewKeyAttributes;

class KmsClient {
 public:
  virtual ~KmsClient() = default;

  // The URI this client was opened with (no secrets), and the key's id.
  virtual const std::string& uri() const = 0;
  virtual const std::string& key_id() const = 0;

  // Wraps `plaintext` (1..4096 bytes) under the root key. Returns an opaque
  // blob that Unwrap of the same driver and key accepts.
  virtual Result<std::vector<uint8_t>> Wrap(
      std::span<const uint8_t> plaintext) = 0;

  // Unwraps a blob made by Wrap.
  virtual Result<SecureBuffer> Unwrap(std::span<const uint8_t> wrapped) = 0;

  // The key's current state as the KMS reports it.
  virtual Result<KeyState> State() = 0;

  // Revokes (deactivates) the key. kNotSupported where the KMS has no such
  // operation for this client.
  virtual Status Revoke(std::string_view reason) = 0;

  // Destroys the key for good. kNotSupported where not permitted.
  virtual Status Destroy() = 0;

  // Records what uses the key, once an image is bound to it, as vCenter does
  // when a key is first used for a VM: KMIP Add Attribute of x-Component,
  // x-Name and x-Identifier (use.component, use.name, use.identifier; empty
  // values are skipped). Best effort: drivers without key attributes do
  // nothing and return OK; a KMIP server that refuses the attributes gets a
  // logged warning and OK. Errors: transport failures only.
  virtual Status RecordUse(const NewKeyAttributes& use) {
    (void)use;
    return Status();
  }

  // Re-wraps a blob of this key under the key's newest version without the
  // plaintext leaving the KMS (Key Protect's "rewrap" action, after a root
  // key rotation). kNotSupported for drivers without it (the caller then
  // unwraps and wraps).
  virtual Result<std::vector<uint8_t>> Rewrap(std::span<const uint8_t> wrapped) {
    (void)wrapped;
    return Status::NotSupported("this KMS driver has no rewrap operation");
  }
};

// Errors shared by every driver and operation:
//   kInvalidArgument  malformed URI or options (names the part)
//   kUnavailable      the KMS could not be reached: connect/TLS/timeout/5xx
//                     (retryable: "unreachable is not revoked")
//   kPermissionDenied authentication refused (bad client cert, token, CA or
//                     pinned fingerprint mismatch) — the message says which
//   kNotFound         unknown key id
//   kKeyRevoked       the KMS refuses because the key is revoked, suspended,
//                     destroyed or deleted
//   kCorruption       the KMS answered something malformed, or a wrapped blob
//                     does not authenticate
Result<std::unique_ptr<KmsClient>> OpenKms(std::string_view uri,
                                           const KmsOptions& options);

// Attributes for a new root key, as vCenter sets them on KMIP servers.
struct NewKeyAttributes {
  std::string name;        // x-Name / Name
  std::string identifier;  // x-Identifier (e.g. the image UUID)
  std::string vendor = "luksfs";
  std::string product = "luksfs";
  std::string product_version;  // x-Product_Version ("luksfs 0.1.0")
  std::string component;        // x-Component (what uses the key)
};

// Creates (and activates) a new 256-bit AES root key in the KMS named by
// `uri` (whose key part is ignored or names the new key, per driver) and
// returns the URI of the new key. KMIP follows vCenter's sequence: Create,
// Get Attributes, Add Attribute x-Vendor, x-Product, x-Product_Version,
// then Activate. kNotSupported for drivers that cannot.
Result<std::string> CreateRootKey(std::string_view uri,
                                  const KmsOptions& options,
                                  const NewKeyAttributes& attributes);

}  // namespace luksfs::kms
