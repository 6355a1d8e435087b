// LuksHeader: a format-neutral, validated description of a LUKS1 or LUKS2
// header, and the functions that read one from untrusted bytes.
//
// Parsing is bounded and never trusts sizes from the image: a hostile header
// yields kCorruption (malformed) or kNotSupported (well-formed but something
// luksfs does not handle), never a crash or an unbounded allocation.
// Parsing does not decide whether the image can be mounted: CheckMountable()
// does, so that `luksfs info` can still describe an image it cannot open.
//
// Units: every offset and size here is in BYTES from the start of the image,
// whatever the on-disk unit was (LUKS1 stores 512-byte sectors; the parser
// converts). Sector numbers for IVs are always 512-byte units.
//
// Thread-safety: the structs are plain values; the functions are reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace luksfs::crypto {

// Reads exactly dst.size() bytes at absolute byte `offset` of the image.
// Returns kCorruption ("image is truncated ...") if the image ends first,
// kIOError if the OS fails. Supplied by the caller: crypto/ does no I/O.
using ReadFn = std::function<Status(uint64_t offset, std::span<uint8_t> dst)>;

enum class KdfType { kPbkdf2, kArgon2i, kArgon2id };

struct KdfParams {
  KdfType type = KdfType::kPbkdf2;
  std::string hash;          // pbkdf2 only: "sha256", ...
  uint32_t iterations = 0;   // pbkdf2: iterations; argon2: time cost
  uint32_t memory_kib = 0;   // argon2 only, KiB
  uint32_t cpus = 0;         // argon2 only: lanes (part of the KDF output)
  std::vector<uint8_t> salt; // LUKS1: 32 bytes; LUKS2: 32 bytes
};

struct Keyslot {
  int index = 0;             // LUKS1: 0..7; LUKS2: the JSON key "0".."31"
  std::string type;          // "luks1" (LUKS1 slot), "luks2", "reencrypt", ...
  int priority = 1;          // LUKS2: 0 ignore unless chosen, 1 normal, 2 prefer
  uint32_t key_bytes = 0;    // length of the volume key this slot stores
  KdfParams kdf;
  std::string af_hash;       // AF splitter hash
  uint32_t stripes = 0;      // always 4000 in valid headers
  uint64_t area_offset = 0;  // bytes, absolute
  uint64_t area_size = 0;    // bytes
  std::string area_cipher;   // e.g. "aes-xts-plain64" (keyslot encryption)
  uint32_t area_key_bytes = 0;  // KDF output length / keyslot cipher key
};

struct Digest {
  int index = 0;
  std::string type;          // "pbkdf2"
  std::string hash;
  uint32_t iterations = 0;
  std::vector<uint8_t> salt;
  std::vector<uint8_t> value;  // 20 bytes (LUKS1, converted) or hash size
  std::vector<int> keyslots;
  std::vector<int> segments;
};

struct Segment {
  int index = 0;
  std::string type;          // "crypt", "linear", ...
  uint64_t offset = 0;       // bytes, absolute
  std::optional<uint64_t> size;  // bytes; nullopt = "dynamic" (to image end)
  uint64_t iv_tweak = 0;     // 512-byte units
  std::string encryption;    // "aes-xts-plain64"
  uint32_t sector_size = 512;  // encryption unit, bytes: 512..4096
  bool has_integrity = false;
  std::vector<std::string> flags;
};

struct Token {
  int index = 0;
  std::string type;
  std::vector<int> keyslots;
  std::string json;          // the whole token object, compact JSON
};

struct LuksHeader {
  int version = 0;           // 1 or 2
  std::string uuid;
  std::string label;         // LUKS2 only
  std::string subsystem;     // LUKS2 only
  uint32_t key_bytes = 0;    // volume key length (of segment 0's digest)
  std::vector<Keyslot> keyslots;   // active/present slots only, by index
  std::vector<Digest> digests;
  std::vector<Segment> segments;   // LUKS1: one synthesised crypt segment
  std::vector<Token> tokens;       // LUKS2 only

  // LUKS2 only.
  uint64_t hdr_size = 0;          // binary header + JSON area, bytes
  uint64_t seqid = 0;
  std::string checksum_alg;
  uint64_t keyslots_size = 0;     // bytes
  bool primary_valid = false;     // LUKS2: which copies passed validation
  bool secondary_valid = false;
  std::string primary_error;      // why the primary copy was rejected
  std::string secondary_error;
  std::vector<std::string> requirements;  // config.requirements.mandatory
  std::vector<std::string> config_flags;  // config.flags
  std::string json;               // the chosen copy's JSON text, as on disk
                                  // (trailing NULs removed)
};

// Reads and validates the header at the start of an image of `image_size`
// bytes. LUKS2: both copies are read; each is checked (magic, hdr_offset,
// checksum, JSON schema) and the valid one with the higher seqid wins;
// the secondary is used when the primary is damaged.
// Errors: kCorruption (not LUKS, truncated, damaged beyond repair),
// kNotSupported (unknown version), kIOError (from read).
Result<LuksHeader> ReadLuksHeader(const ReadFn& read, uint64_t image_size);

// Whether the header's data segment can be served: exactly one crypt segment,
// no mandatory requirements (e.g. reencryption in progress), no integrity,
// a supported cipher. Errors: kNotSupported with the reason;
// kPermissionDenied "no key: ..." when no keyslot is left (erased/shredded).
Status CheckMountable(const LuksHeader& header);

// The plaintext view of segment 0 on an image of `image_size` bytes.
struct DataLayout {
  uint64_t offset = 0;        // bytes: start of the ciphertext
  uint64_t size = 0;          // bytes: plaintext size, a multiple of sector_size
  uint32_t sector_size = 512; // bytes per encryption unit
  uint64_t iv_tweak = 0;      // 512-byte units added to every IV
  std::string cipher;         // "aes-xts-plain64"
};
// Errors: kCorruption if the segment lies beyond the image end.
Result<DataLayout> ComputeDataLayout(const LuksHeader& header,
                                     uint64_t image_size);

// Format-specific parsers, used by ReadLuksHeader and the fuzzers.
// `bytes` holds the first bytes of the image (at least 592 for LUKS1).
Result<LuksHeader> ParseLuks1Header(std::span<const uint8_t> bytes,
                                    uint64_t image_size);
Result<LuksHeader> ReadLuks2Header(const ReadFn& read, uint64_t image_size);

// "argon2id", "pbkdf2", ...
const char* KdfName(KdfType type);

}  // namespace luksfs::crypto
