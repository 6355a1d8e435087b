// The local keystore driver (`file:/PATH#KEY-NAME`) and the keystore
// management API the CLI uses.
//
// A keystore is one file holding 256-bit random root keys, each with a
// state (active, revoked, destroyed) and created/changed times, sealed
// under a passphrase (Argon2id + XSalsa20-Poly1305; format in
// keystore_file.h). Wrap/Unwrap run locally with the root key.
//
// Wrapped blob, version 1 (opaque to callers):
//   @0  magic "LKSW"                                4
//   @4  version = 1                                 1
//   @5  nonce                                       24
//   @29 XChaCha20-Poly1305 ciphertext + 16-byte tag
// AAD = bytes [0, 5) || key name, so a blob only opens under the key (name)
// it was made for. A blob that does not authenticate is kCorruption.
//
// Every operation re-reads the file, so a revoke or destroy done by another
// process (or another client instance) is seen at once. The passphrase and
// the derived key are held in SecureBuffers for the client's lifetime.
//
// Thread-safety: a client or function call is single-threaded; several
// processes may use one keystore file concurrently (flock + atomic rename).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "kms-client/keystore_file.h"
#include "kms-client/kms.h"

namespace luksfs::kms {

// Reads a passphrase from `path` ("-" = standard input, read up to and
// including the first newline): the first line, without its "\n", at most
// 4096 bytes; nothing else is stripped (as --passphrase-file). Errors: kInvalidArgument
// (empty path or passphrase, too long), kNotFound, kIOError.
Result<SecureBuffer> ReadPassphraseFile(std::string_view path);

// Splits "file:/PATH#KEY-NAME" (also "file:///PATH#NAME"). The key name may
// be empty when `require_key` is false. Errors: kInvalidArgument.
struct KeystoreUri {
  std::string path;
  std::string key_name;
};
Result<KeystoreUri> ParseKeystoreUri(std::string_view uri, bool require_key);

// Creates an empty keystore at `path`. kInvalidArgument if it exists.
Status CreateKeystore(const std::string& path, const SecureBuffer& passphrase,
                      const KeystoreKdfParams& params);

// Adds a new active root key (32 random bytes) named `name` and returns the
// name. kInvalidArgument for a bad or already used name.
Result<std::string> AddKeystoreKey(const std::string& path,
                                   const SecureBuffer& passphrase,
                                   std::string_view name);

struct KeystoreKeyInfo {
  std::string name;
  KeyState state;   // kActive, kDeactivated (revoked) or kDestroyed
  int64_t created;  // Unix seconds
  int64_t changed;  // Unix seconds
};
// Lists the keys, without key material, in file order.
Result<std::vector<KeystoreKeyInfo>> ListKeystoreKeys(
    const std::string& path, const SecureBuffer& passphrase);

// Opens a client for key `key_name` of the keystore at `path`. The key must
// exist (kNotFound); the file must open with `passphrase`.
Result<std::unique_ptr<KmsClient>> OpenKeystoreClient(const std::string& path,
                                                      std::string_view key_name,
                                                      SecureBuffer passphrase);

// OpenKms for file: URIs; the passphrase comes from
// options.keystore_passphrase_file (required).
Result<std::unique_ptr<KmsClient>> OpenKeystore(std::string_view uri,
                                                const KmsOptions& options);

// CreateRootKey for file: URIs. Creates the keystore first when the file
// does not exist (KDF cost from $LUKSFS_KEYSTORE_KDF, default moderate).
// The new key is named by the URI fragment, else attributes.name, else
// "key-" + 16 random hex digits. Returns "file:/PATH#NAME".
Result<std::string> CreateKeystoreRootKey(std::string_view uri,
                                          const KmsOptions& options,
                                          const NewKeyAttributes& attributes);

}  // namespace luksfs::kms
