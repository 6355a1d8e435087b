// KeystoreFile: the on-disk local keystore behind `file:` KMS URIs — root
// keys sealed under a passphrase (internal to kms-client; the public API is
// keystore.h).
//
// File format, version 1 (integers big-endian, offsets in bytes):
//   @0   magic "LUKSFSKS"                         8
//   @8   version = 1                              u16
//   @10  kdf = 1 (Argon2id v1.3, crypto_pwhash)   u16
//   @12  opslimit (Argon2 passes)                 u32
//   @16  memlimit (bytes)                         u64
//   @24  salt                                     16
//   @40  nonce (XSalsa20)                         24
//   @64  sealed length n                          u32
//   @68  sealed: crypto_secretbox_easy(payload)   n   (16-byte MAC + payload)
//   @68+n  checksum: BLAKE2b-256 of bytes [0, 68+n)   32
// The unkeyed checksum separates a damaged file (kCorruption) from a wrong
// passphrase (MAC failure with an intact checksum: kPermissionDenied).
// Payload (plaintext, only ever in a SecureBuffer):
//   u32 count, then per key: u8 name length, name, u8 state (1 active,
//   2 revoked, 3 destroyed), i64 created, i64 changed (Unix seconds),
//   u8 material length (32, or 0 once destroyed), material.
//
// Writes take an exclusive flock(2) on PATH.lock, re-read the file, apply
// the change, write PATH.tmp.XXXXXX, fsync it, rename(2) it over PATH and
// fsync the directory, so concurrent processes never lose an update and
// readers (which take no lock) always see a whole file.
//
// Thread-safety: none; one KeystoreFile per thread (the derived key cache
// is unsynchronised). Distinct objects and processes may share a file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::kms {

inline constexpr size_t kKeystoreRootKeyBytes = 32;
inline constexpr size_t kKeystoreMaxNameLength = 128;
inline constexpr size_t kKeystoreMaxKeys = 4096;

enum class StoredKeyState : uint8_t { kActive = 1, kRevoked = 2, kDestroyed = 3 };

struct StoredKey {
  std::string name;
  StoredKeyState state = StoredKeyState::kActive;
  int64_t created = 0;    // Unix seconds
  int64_t changed = 0;    // Unix seconds, last state change
  SecureBuffer material;  // kKeystoreRootKeyBytes; empty once destroyed
};

// Argon2id cost of the passphrase KDF (crypto_pwhash).
struct KeystoreKdfParams {
  uint64_t opslimit = 0;  // passes
  uint64_t memlimit = 0;  // bytes
  // crypto_pwhash_*_MODERATE (3 passes, 256 MiB), or the level named by
  // $LUKSFS_KEYSTORE_KDF: "min" (tests only), "interactive", "moderate",
  // "sensitive". kInvalidArgument for another value.
  static Result<KeystoreKdfParams> FromEnvironment();
  static KeystoreKdfParams Minimal();
  static KeystoreKdfParams Moderate();
};

// Whether `name` is a valid key name: 1..128 of [A-Za-z0-9._-].
bool ValidKeyName(std::string_view name);

class KeystoreFile {
 public:
  // `passphrase` is kept (locked memory) for later reads and writes.
  KeystoreFile(std::string path, SecureBuffer passphrase);
  KeystoreFile(const KeystoreFile&) = delete;
  KeystoreFile& operator=(const KeystoreFile&) = delete;

  const std::string& path() const { return path_; }

  // Creates a new keystore holding no keys. Errors: kInvalidArgument if the
  // file exists, kIOError.
  Status Create(const KeystoreKdfParams& params);

  // Reads and opens the current file. Errors: kNotFound (no file),
  // kCorruption (damaged, truncated, unknown version, hostile KDF cost),
  // kPermissionDenied (wrong passphrase), kIOError.
  Result<std::vector<StoredKey>> Load();

  // Under the write lock: loads, calls `change` on the keys, and if it
  // returns OK writes the result atomically. Errors: Load's, change's, and
  // kIOError.
  Status Update(const std::function<Status(std::vector<StoredKey>&)>& change);

 private:
  struct Header;
  Result<std::vector<StoredKey>> ReadAndOpen();
  Status Write(const std::vector<StoredKey>& keys, const Header& header);
  // The derived key for `header`'s salt and cost, cached.
  Result<const SecureBuffer*> DerivedKey(const Header& header);

  std::string path_;
  SecureBuffer passphrase_;
  // Cache of the last derivation: the key and what it was derived from.
  SecureBuffer derived_;
  std::vector<uint8_t> derived_salt_;
  uint64_t derived_ops_ = 0;
  uint64_t derived_mem_ = 0;
};

}  // namespace luksfs::kms
