// IBM Key Protect driver: `kp+https://HOST[:PORT]/KEY-ID` (kp+http:// for
// tests). KEY-ID is the root key's id or alias ([A-Za-z0-9._-], <= 128).
// HOST: Key Protect `REGION.kms.cloud.ibm.com` (private endpoint
// `private.REGION.kms.cloud.ibm.com`); Hyper Protect Crypto Services speaks
// the same API at `INSTANCE-ID.api.REGION.hs-crypto.appdomain.cloud` (its
// instance id is also the bluemix-instance).
//   Rewrap   POST .../actions/rewrap {"ciphertext"} -> {"ciphertext"} (the
//            WDEK under the newest root key version, after "rotate").
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
// Options: instance_id (required); api_key_file (an IAM API key of a
// service ID, exchanged at iam_endpoint for tokens that are refreshed
// before they expire: iam_token.h; a 401 forces one new exchange), or
// token_file or $token_env (default $LUKSFS_KP_TOKEN; an IAM access token,
// with or without "Bearer "); ca_file, fingerprint, timeout_ms. With
// token_file the file is re-read once after a 401, so an external
// refresher can renew the hour-long IAM token under a long-running mount.
//
// Key states, as the revocation watcher sees them: 1 active -> serve;
// 2 suspended (disabled), 3 deactivated, 5 destroyed, HTTP 410 (deleted) ->
// revoked (keys dropped); 401/403 from Key Protect or IAM -> refused, which
// counts as unreachable (the grace period applies), never as revoked.
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
