// Hexadecimal encoding of bytes: the one encoder of the project.
//
// Thread-safety: pure functions. Errors: only HexEncodeSecure can fail (no
// locked memory available).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs {

enum class HexCase { kLower, kUpper };

// Two digits per byte; `separator` (if not empty) between bytes, as in the
// "AB:CD:..." of certificate fingerprints.
std::string HexEncode(std::span<const uint8_t> bytes,
                      HexCase letter_case = HexCase::kLower,
                      std::string_view separator = {});

// Lower-case hex of secret bytes, into locked memory (2 * size bytes), for
// secrets that are used as text (generated passphrases).
Result<SecureBuffer> HexEncodeSecure(std::span<const uint8_t> bytes);

}  // namespace luksfs
