// Fresh LUKS headers: everything `cryptsetup luksFormat` writes before the
// data area, for LUKS2 (this file) and LUKS1 (FormatLuks1, same spec).
//
// LUKS2 layout, as cryptsetup 2.x lays it out by default (LUKS2 on-disk
// format document, sections 2-3): the primary header copy at 0 and the
// secondary at hdr_size (16 KiB each: a 4096-byte binary header, then the
// JSON area), the keyslots area from 2*hdr_size up to the data offset
// (16 MiB by default), one "luks2" keyslot in its first 4096-aligned bytes,
// one pbkdf2 digest, and one "crypt" segment of size "dynamic" (to the end
// of the image). seqid starts at 1. The result is re-read with the strict
// reader before it is returned (Luks2Metadata::EncodeHeaders).
//
// LUKS1 layout (LUKS1 on-disk format specification 1.2.3, and cryptsetup's
// LUKS_generate_phdr): the 592-byte header, keyslot 0's material at sector
// 8, every slot's material aligned to 4096 bytes, the payload aligned to
// 1 MiB after the last slot (2 MiB for a 512-bit key); slots 1..7 disabled.
//
// Units: bytes, except where a name says otherwise. Nothing is written
// here: the caller applies `writes` in order (key material first, then the
// header copies, secondary before primary), and must make the image at
// least data_offset bytes long.
//
// Thread-safety: reentrant. Secrets: passphrase and volume key are
// borrowed; the returned writes hold only ciphertext, salts and digests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/keyslot_create.h"
#include "crypto/luks2_metadata.h"  // ImageWrite

namespace luksfs::crypto {

struct NewLuksSpec {
  std::string cipher = "aes-xts-plain64";  // dm-crypt notation
  uint32_t key_bytes = 64;                 // volume key: 64 = AES-256-XTS
  uint32_t sector_size = 4096;             // LUKS2 only: 512, 1024, 2048, 4096
  std::string hash = "sha256";             // digest, AF and LUKS1 PBKDF2 hash
  KdfParams kdf;                           // keyslot KDF (salt generated);
                                           // LUKS1: pbkdf2 only
  uint32_t digest_iterations = 1000;       // volume key digest, >= 1000
  std::string label;                       // LUKS2 only, < 48 bytes
  std::string uuid;                        // empty: a random version 4 UUID
  uint64_t data_offset = 0;                // 0: the default (LUKS2 16 MiB,
                                           // LUKS1 after the keyslots, 1 MiB
                                           // aligned)
  std::vector<std::string> tokens;         // LUKS2 only: token objects
                                           // (compact JSON) to add
};

struct NewLuksHeader {
  std::vector<ImageWrite> writes;  // in the order to apply them
  uint64_t data_offset = 0;        // bytes: where the ciphertext starts
  std::string uuid;
  int keyslot = 0;
};

// The default LUKS2 data offset and header copy size.
inline constexpr uint64_t kLuks2DefaultDataOffset = 16ull << 20;
inline constexpr uint64_t kLuks2DefaultHdrSize = 16384;

// Errors: kInvalidArgument (sizes, label, uuid, offsets), kNotSupported
// (cipher, hash, KDF), kInternal (RNG).
Result<NewLuksHeader> FormatLuks2(const NewLuksSpec& spec,
                                  std::span<const uint8_t> passphrase,
                                  std::span<const uint8_t> volume_key);
Result<NewLuksHeader> FormatLuks1(const NewLuksSpec& spec,
                                  std::span<const uint8_t> passphrase,
                                  std::span<const uint8_t> volume_key);

// A random RFC 4122 version 4 UUID in lower-case text form.
Result<std::string> RandomUuid();
// Whether `text` is a UUID in the 8-4-4-4-12 hex form.
bool IsUuidText(const std::string& text);

}  // namespace luksfs::crypto
