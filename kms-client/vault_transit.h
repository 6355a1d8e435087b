// HashiCorp Vault transit driver: `vault+https://HOST[:PORT]/MOUNT/KEY-NAME`
// (vault+http:// for tests). MOUNT is the transit engine's mount path
// (usually "transit"; may contain '/'); KEY-NAME its last segment.
//
// REST API (hashicorp/vault website/content/api-docs/secret/transit.mdx,
// builtin/logical/transit/path_*.go):
//   Wrap     GET /v1/MOUNT/keys/NAME first (transit "encrypt" would silently
//            create a missing key; skipped if the token may not read keys),
//            then POST /v1/MOUNT/encrypt/NAME
//            {"plaintext": b64} -> {"data": {"ciphertext": "vault:vN:..."}}
//   Unwrap   POST /v1/MOUNT/decrypt/NAME {"ciphertext": "vault:vN:..."}
//            -> {"data": {"plaintext": b64}}
//   State    GET /v1/MOUNT/keys/NAME: 404 -> kDestroyed; "soft_deleted" ->
//            kDestroyed; a key version this client wrapped or unwrapped
//            that is now below min_decryption_version -> kDeactivated;
//            otherwise kActive. (Vault has no per-key revoked flag; a client
//            that never saw a blob reports kActive until the key is gone.)
//   Revoke   Vault has no "revoke". The crypto-shred lever used here: POST
//            /v1/MOUNT/keys/NAME/rotate, then POST .../config
//            {"min_decryption_version": <new latest>}. Every ciphertext made
//            before the revoke stops decrypting (HTTP 400); the key stays
//            usable for new wraps; an operator can undo it by lowering
//            min_decryption_version until old versions are trimmed.
//   Destroy  POST .../config {"deletion_allowed": true}, then DELETE
//            /v1/MOUNT/keys/NAME (all versions, irreversible).
// Header "X-Vault-Token: TOKEN", plus "X-Vault-Namespace" when
// $VAULT_NAMESPACE is set (Vault Enterprise).
//
// Options: token_file or $token_env (default $VAULT_TOKEN), ca_file,
// fingerprint, timeout_ms.
//
// Wrapped blob: Vault's ciphertext string, "vault:vN:<base64>", verbatim.
//
// Status mapping (after bounded retries for connect errors, 429, 5xx):
//   403 (bad token or policy), 401           kPermissionDenied
//   404 on keys/NAME, Wrap of a missing key  kNotFound
//   decrypt 400 and the key is gone, soft-deleted, or the blob's version is
//   below min_decryption_version (found by reading the key; by Vault's
//   error text if the token may not read it)  kKeyRevoked
//   decrypt 400 otherwise, bad JSON          kCorruption
//   other 400                                kInvalidArgument
//   connect/TLS errors, 429, 5xx (503 sealed) kUnavailable
//
// Thread-safety: see KmsClient (one thread at a time).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "kms-client/kms.h"

namespace luksfs::kms {

Result<std::unique_ptr<KmsClient>> OpenVaultTransit(std::string_view uri,
                                                    const KmsOptions& options);

// POST /v1/MOUNT/keys/NAME {"type": "aes256-gcm96"}. NAME comes from the
// URI, or from attributes.name when the URI ends in "/MOUNT/". Fails with
// kInvalidArgument if the key already exists. Returns the key's URI.
Result<std::string> CreateVaultTransitKey(std::string_view uri,
                                          const KmsOptions& options,
                                          const NewKeyAttributes& attributes);

}  // namespace luksfs::kms
