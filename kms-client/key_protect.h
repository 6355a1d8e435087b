// IBM Key Protect driver: `kp+https://HOST[:PORT]/KEY-ID` (kp+http:// for
// tests). KEY-ID is the root key's id or alias ([A-Za-z0-9._-], <= 128).
//
// REST API v2 (IBM/keyprotect-go-client keys.go, kp.go; cloud.ibm.com/docs/
// key-protect, "wrap-keys", "unwrap-keys", "key-states", "error-messages"):
//   Wrap     POST {base}/api/v2/keys/{id}/actions/wrap   {"plaintext": b64}
//            -> 200 {"ciphertext": b64, "keyVersion": {...}}
//   Unwrap   POST .../actions/unwrap {"ciphertext": b64} -> {"plaintext": b64}
//   State    GET  {base}/api/v2/keys/{id} -> {"metadata": {...},
//            "resources": [{"state": N, ...}]}: 0 pre-active, 1 active,
//            2 suspended, 3 deactivated, 5 destroyed; HTTP 410 = destroyed
//   Revoke   POST .../actions/disable (Suspended; reversible by "enable")
//   Destroy  DELETE {base}/api/v2/keys/{id}, "prefer: return=minimal"
// Headers: "authorization: Bearer TOKEN", "bluemix-instance: INSTANCE",
// "content-type: application/vnd.ibm.kms.key_action+json" (actions),
// "accept: application/json", "correlation-id: <random>".
//
// Options: instance_id (required), token_file or $token_env (default
// $LUKSFS_KP_TOKEN; an IAM access token, with or without "Bearer "),
// ca_file, fingerprint, timeout_ms. With token_file the file is re-read
// once after a 401, so an external refresher can renew the hour-long IAM
// token under a long-running mount.
//
// Wrapped blob: the "ciphertext" string exactly as Key Protect returned it
// (ASCII Base64), so it is the standard Key Protect WDEK. If Key Protect
// returns a rewrapped ciphertext after a root-key rotation, it is ignored.
//
// Status mapping (after bounded retries for connect errors, 429, 5xx):
//   401, 403, 400 BEARER_SUB_EXTRACTION_ERR  kPermissionDenied
//   404                                      kNotFound
//   409 (KEY_ACTION_INVALID_STATE_ERR: key disabled/not active),
//   410 (deleted), 422 KEY_INVALID_STATE_ERR,
//   400 KEY_EXPIRED_ERR                      kKeyRevoked
//   422 UNPROCESSABLE_CIPHERTEXT_ERR, bad JSON kCorruption
//   other 400                                kInvalidArgument
//   connect/TLS errors, 429, 5xx             kUnavailable
//
// Thread-safety: see KmsClient (one thread at a time).
#pragma once

#include <memory>
#include <string_view>

#include "common/result.h"
#include "kms-client/kms.h"

namespace luksfs::kms {

Result<std::unique_ptr<KmsClient>> OpenKeyProtect(std::string_view uri,
                                                  const KmsOptions& options);

}  // namespace luksfs::kms
