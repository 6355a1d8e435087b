// Standard Base64 (RFC 4648 §4, alphabet A-Z a-z 0-9 + /) with '=' padding,
// as LUKS2 JSON stores salts and digests.
//
// Decoding is strict: the length must be a multiple of 4, only alphabet
// characters may appear before the padding, padding is at most two '=' at
// the end, the unused bits of the last group must be zero (so every byte
// string has exactly one accepted encoding), and no whitespace is allowed.
//
// Thread-safety: both functions are pure and reentrant.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace luksfs::crypto {

// Decodes `text`. Errors: kCorruption ("invalid Base64: ...") for anything
// but the canonical padded encoding. "" decodes to an empty vector.
Result<std::vector<uint8_t>> Base64Decode(std::string_view text);

// Encodes `bytes` with padding; never fails.
std::string Base64Encode(std::span<const uint8_t> bytes);

}  // namespace luksfs::crypto
