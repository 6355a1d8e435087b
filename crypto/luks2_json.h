// LUKS2 JSON metadata area -> the JSON-derived fields of a LuksHeader
// (LUKS2 On-Disk Format Specification, "JSON area" and its objects).
//
// The input is untrusted. Before anything is parsed the area is scanned: it
// must start with '{', nesting may not exceed kLuks2MaxJsonDepth outside
// strings (so hostile input cannot exhaust the stack or the heap with deep
// trees), and the top-level object must be followed only by NUL bytes up to
// the end of the area. The parsed document is then validated the way
// cryptsetup's LUKS2_hdr_validate does: object names are canonical decimal
// strings, uint64 fields are decimal strings, keyslot areas lie inside the
// keyslots area and do not overlap, crypt segments are aligned, KDF members
// are exactly the expected sets with format-level bounds, and every
// reference (digest -> keyslot/segment, token -> keyslot) resolves.
//
// Resource caps for unlocking (Argon2 memory a caller is willing to spend,
// ...) are NOT applied here: only what the format itself allows.
//
// Thread-safety: reentrant. No exception escapes.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/result.h"
#include "common/status.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

// Deepest '{' / '[' nesting accepted in the JSON area.
inline constexpr int kLuks2MaxJsonDepth = 16;
// Highest index + 1 accepted for keyslots, tokens, segments and digests.
inline constexpr int kLuks2MaxKeyslots = 32;
inline constexpr int kLuks2MaxTokens = 32;
inline constexpr int kLuks2MaxSegments = 32;
inline constexpr int kLuks2MaxDigests = 32;
// config.keyslots_size upper bound (cryptsetup LUKS2_MAX_KEYSLOTS_SIZE).
inline constexpr uint64_t kLuks2MaxKeyslotsSize = 128ull << 20;
// Format limits on KDF parameters (cryptsetup's maxima).
inline constexpr uint32_t kLuks2MinArgon2MemoryKib = 8;
inline constexpr uint32_t kLuks2MaxArgon2MemoryKib = 4194304;  // 4 GiB
inline constexpr uint32_t kLuks2MaxArgon2Cpus = 1u << 24;

// Parses `json_area` (the hdr_size - 4096 bytes after the binary header of a
// copy whose binary header says `hdr_size`) and fills, in `*out`: version
// (2), keyslots, digests, segments, tokens (each sorted by index),
// keyslots_size, requirements, config_flags, key_bytes, and json (the text
// without the trailing NULs). Other fields of `*out` are left untouched.
//
// Errors: kCorruption for malformed or inconsistent metadata, with a
// one-line message naming the object ("keyslot 3: area overlaps keyslot 1",
// "config: json_size 8192 does not match the header (12288)"); the message
// has no "LUKS2 header" prefix, the caller adds its own. kResourceExhausted
// if memory runs out. On error `*out` may be partly filled.
Status ParseLuks2Json(std::span<const uint8_t> json_area, uint64_t hdr_size,
                      LuksHeader* out);

// Parses a LUKS2 uint64 field: a non-empty string of ASCII digits, no sign,
// no spaces, value < 2^64. Errors: kCorruption naming `what`.
Result<uint64_t> ParseLuks2Uint64(std::string_view text, std::string_view what);

}  // namespace luksfs::crypto
