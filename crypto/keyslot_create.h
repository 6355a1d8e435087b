// Keyslot creation: the inverse of UnlockKeyslot, format-neutral.
//
// Given a passphrase and the volume key, derives the keyslot key with a
// fresh random salt, AF-splits the volume key into `stripes` stripes, and
// encrypts the split material with the keyslot cipher in 512-byte sectors
// with IVs from 0 — exactly what cryptsetup writes into a keyslot area.
// The LUKS1/LUKS2 writers place the result in the header and keyslot area.
//
// Thread-safety: reentrant. Secrets: passphrase and volume key are
// borrowed; the derived key and the plaintext split material live in
// SecureBuffers and are wiped. The returned material is ciphertext.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

struct KeyslotSpec {
  KdfParams kdf;             // type and costs; the salt is generated
  std::string area_cipher = "aes-xts-plain64";
  uint32_t area_key_bytes = 64;
  std::string af_hash = "sha256";
  uint32_t stripes = 4000;
};

struct NewKeyslot {
  KdfParams kdf;                 // with the 32-byte salt filled in
  std::vector<uint8_t> material; // encrypted, AfSplitSize(vk, stripes) bytes
};

// Errors: kNotSupported (cipher, hash, KDF), kInvalidArgument (sizes),
// kResourceExhausted (memory), kInternal (OpenSSL RNG).
Result<NewKeyslot> MakeKeyslot(std::span<const uint8_t> passphrase,
                               std::span<const uint8_t> volume_key,
                               const KeyslotSpec& spec);

// Random bytes from OpenSSL's CSPRNG. Errors: kInternal.
Status RandomBytes(std::span<uint8_t> out);

}  // namespace luksfs::crypto
