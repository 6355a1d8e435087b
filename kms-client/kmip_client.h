// The KMIP driver of KmsClient: KMIP 1.4, negotiated down to 1.3, 1.2, 1.1
// or 1.0 with Discover Versions (KMIP 1.1 section 4.26) when a server
// refuses a 1.4 request, over mutual TLS, for one root key on one server or
// a list of replicas. Below 1.4 (no AES-GCM Encrypt/Decrypt; below 1.2 no
// Encrypt/Decrypt at all) the client works in local mode, as vCenter does.
//
// URI:  kmip://HOST[:PORT][,HOST[:PORT]...]/KEY-UID[?mode=server|local]
//   HOST      DNS name, IPv4, or [IPv6]; PORT defaults to 5696. Servers are
//             tried in order; the next one is used when connecting or the
//             TLS handshake fails (they must replicate the same keys).
//   KEY-UID   the key's Unique Identifier, percent-encoded if needed.
//   mode      server (default): Wrap/Unwrap are KMIP Encrypt/Decrypt with
//             AES-256-GCM on the server; the key never leaves the KMS. If
//             the server answers Operation Not Supported (or returns no GCM
//             tag), the client switches to local mode for its lifetime.
//             local: the vCenter model — KMIP Get of the raw AES-256 key,
//             AES-256-GCM here, key wiped at once. Because servers such as
//             PyKMIP return key material even for revoked keys, local mode
//             first checks Get Attributes(State) == Active and refuses
//             otherwise.
// Options used (KmsOptions): client_cert_file/client_key_file (mutual TLS),
// ca_file or fingerprint (server trust: a pinned SHA-256 of the server
// certificate replaces CA checking), username + password_file (KMIP
// Username/Password credential; the first line of the file, held in a
// SecureBuffer), timeout_ms (per connection attempt and per request).
//
// Wrapped blobs: see kmip_blob.h (magic "LKW1", mode, IV, tag, ciphertext).
// A blob made in one mode unwraps in the other.
//
// Error mapping (beyond kms.h):
//   TLS trust failure / TLS alert (client cert refused) → kPermissionDenied
//     naming the CA file, the pin, or the client certificate
//   connect refused, timeout, connection lost → kUnavailable
//   Result Reason Authentication Not Successful → kPermissionDenied
//   Permission Denied on Encrypt/Decrypt/Get: the client then reads the
//     key's State; not Active → kKeyRevoked naming the state, else (a
//     policy that denies this client) → kPermissionDenied
//   Item Not Found → kNotFound ("destroyed, or never existed"), except on a
//     client that has already seen the key (any earlier success): then
//     State() returns KeyState::kDestroyed and Wrap/Unwrap/Get return
//     kKeyRevoked ("destroyed"). Both become exit code 5 in the CLI.
//   General/Cryptographic Failure on Decrypt → kCorruption (the blob does
//     not authenticate under this key)
//   Operation Not Supported, Invalid Field/Message → kNotSupported
// Revoke(reason): reason containing "compromise" (any case) → Key
//   Compromise (state Compromised), else Cessation of Operation
//   (Deactivated). Revoking a key that is already revoked is OK.
// Destroy(): KMIP servers (PyKMIP) refuse to destroy an Active key, so an
//   Active key is first revoked (Cessation of Operation). Destroying a key
//   this client already saw destroyed is OK.
//
// Thread-safety: a client is used by one thread at a time (kms.h); it keeps
// one TLS connection open and reconnects (and retries once) when a reused
// connection turns out to be dead.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "kms-client/kms.h"
#include "kms-client/tls_connection.h"

namespace luksfs::kms {

inline constexpr uint16_t kKmipDefaultPort = 5696;

enum class KmipMode { kServer, kLocal };

struct KmipUri {
  std::vector<Endpoint> endpoints;  // in failover order, at least one
  std::string key_id;               // decoded; may be empty (CreateKmipKey)
  KmipMode mode = KmipMode::kServer;
  bool mode_given = false;  // "?mode=" was present

  // The URI for `key_id` with the same servers and mode.
  std::string WithKey(std::string_view key_id) const;
};

// Parses a kmip:// URI. Errors: kInvalidArgument naming the bad part.
Result<KmipUri> ParseKmipUri(std::string_view uri);

// Opens a client for the key named by `uri` (key id required). Loads the
// certificates now; connects lazily on the first operation.
Result<std::unique_ptr<KmsClient>> OpenKmipClient(std::string_view uri,
                                                  const KmsOptions& options);

// Creates an AES-256 key in vCenter's sequence: Create (usage
// Encrypt|Decrypt, Name = attributes.name), Get Attributes (State,
// x-Product_Version), Add Attribute x-Vendor, x-Product, x-Product_Version,
// then Activate. A server that refuses the custom attributes (PyKMIP 0.10
// has no Add Attribute) gets a logged warning and the key is kept.
// x-Component, x-Name and x-Identifier are added by RecordUse when an image
// is bound. The key part of `uri` is ignored. Returns the new key's URI.
Result<std::string> CreateKmipKey(std::string_view uri,
                                  const KmsOptions& options,
                                  const NewKeyAttributes& attributes);

}  // namespace luksfs::kms
