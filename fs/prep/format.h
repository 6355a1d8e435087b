// What a new LUKS header should look like, in the vocabulary of
// `cryptsetup luksFormat` (used by `luksfs create` and `luksfs convert`),
// and the step that turns it into header bytes for a volume key.
//
// Defaults are cryptsetup 2.x's: LUKS2, aes-xts-plain64 with a 512-bit key,
// sha256, argon2id (pbkdf2 for LUKS1) benchmarked to 2000 ms with up to
// 1 GiB of memory (capped at half of the RAM) and min(4, CPUs) lanes, data
// at 16 MiB (LUKS2) or after the keyslots aligned to 1 MiB (LUKS1). LUKS2
// encrypts 4096-byte sectors when the data size allows it, else 512.
//
// Thread-safety: reentrant. Secrets: borrowed, never copied out of their
// SecureBuffers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/luks2_writer.h"

namespace luksfs::fs::prep {

// --type qcow2 (qcow2 v3 holding a LUKS1 header, as `qemu-img create -f
// qcow2 -o encrypt.format=luks` makes it) and --type qcow2-plain (no
// encryption), with qemu-img's defaults.
struct Qcow2Format {
  bool enabled = false;         // the DST is a qcow2 container
  bool encrypted = true;        // false: qcow2-plain
  uint64_t cluster_size = 65536;  // --cluster-size, 512..2M
  uint32_t refcount_bits = 16;  // --refcount-bits
  bool extended_l2 = false;     // --extended-l2
};

struct FormatOptions {
  int version = 2;                         // --type luks2|luks1
  std::string cipher = "aes-xts-plain64";  // --cipher
  uint32_t key_bits = 512;                 // --key-size
  std::optional<uint32_t> sector_size;     // --sector-size
  std::string pbkdf;                       // --pbkdf; "" = the default
  std::string hash = "sha256";             // --hash
  uint32_t iter_time_ms = 2000;            // --iter-time
  std::optional<uint32_t> force_iterations;  // --pbkdf-force-iterations
  std::optional<uint32_t> memory_kib;      // --pbkdf-memory
  std::optional<uint32_t> parallel;        // --pbkdf-parallel
  std::string label;                       // --label (LUKS2)
  std::string uuid;                        // --uuid; "" = random
  std::vector<std::string> tokens;         // LUKS2 token JSON, keyslot 0
  std::optional<uint64_t> data_offset;     // bytes; LUKS1 payload offset
                                           // (qcow2: the header length)
  Qcow2Format qcow2;                       // --type qcow2|qcow2-plain
  // The options given on the command line, by name ("cipher", "key-size",
  // "sector-size", "hash", "label", ...): InheritFormat leaves them alone.
  std::vector<std::string> given;
};

// What a LUKS SRC was made with (empty / 0: unknown, e.g. a raw SRC).
struct SourceFormat {
  std::string cipher;        // "aes-xts-plain64"
  uint32_t key_bits = 0;
  uint32_t sector_size = 0;  // bytes
  std::string hash;          // the volume key digest's hash
  std::string label;         // LUKS2
};

// A re-keyed LUKS DST keeps SRC's cipher, key size, sector size, hash and
// label unless the command line chose them (o->given): the sector size and
// label only for a LUKS2 DST (LUKS1 and qcow2+LUKS have 512-byte sectors
// and no label), and nothing but the hash for a non-AES cipher into
// qcow2 (refused there anyway).
void InheritFormat(const SourceFormat& src, FormatOptions* o);

// Checks option combinations that need no I/O. Errors: kInvalidArgument
// with a message naming the option.
Status ValidateFormat(const FormatOptions& o);

// The sector size the image will use for `data_bytes` of plaintext.
uint32_t EffectiveSectorSize(const FormatOptions& o, uint64_t data_bytes);

// Runs the KDF benchmark (unless costs are forced) and builds the header
// for `volume_key` (o.key_bits / 8 bytes) opened by `passphrase`.
// `data_bytes` is the plaintext size (for the sector size choice).
// Errors: kInvalidArgument (options, size not a multiple of the sector),
// kNotSupported (cipher), kResourceExhausted (memory).
Result<crypto::NewLuksHeader> BuildHeader(const FormatOptions& o,
                                          std::span<const uint8_t> passphrase,
                                          std::span<const uint8_t> volume_key,
                                          uint64_t data_bytes);

// Parses "1073741824", "512K", "100M", "1G", "2T" (binary multiples, an
// optional trailing 'B' or "iB"). Errors: kInvalidArgument.
Result<uint64_t> ParseSize(const std::string& text);

}  // namespace luksfs::fs::prep
