// LUKS1 keyslot edits: adding a keyslot (bind) and disabling keyslots
// (unbind, shred). LUKS1 has no checksum: the 592-byte header is rewritten
// in place after the key material, which is written first.
//
// Thread-safety: reentrant. The returned writes contain only ciphertext
// (key material) or random bytes (wiped material) and header fields.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "crypto/keyslot_create.h"
#include "crypto/luks2_metadata.h"  // ImageWrite

namespace luksfs::crypto {

// The KeyslotSpec LUKS1 requires for `header`: the volume cipher and key
// size for the key material, the header hash for PBKDF2 and AF.
KeyslotSpec Luks1KeyslotSpec(const LuksHeader& header, uint32_t iterations);

// Writes that make `slot` (or the first free slot) hold `keyslot`.
// `raw` = the first 592 bytes of the image. On success *chosen is the slot.
// Errors: kResourceExhausted (all 8 in use), kInvalidArgument (slot in use
// or out of range), kCorruption (header).
Result<std::vector<ImageWrite>> Luks1AddKeyslot(std::span<const uint8_t> raw,
                                                const NewKeyslot& keyslot,
                                                std::optional<int> slot,
                                                int* chosen);

// Writes that disable `slots` and overwrite their key material with random
// bytes (so the slot can never be opened again). Errors: kNotFound.
Result<std::vector<ImageWrite>> Luks1DisableKeyslots(
    std::span<const uint8_t> raw, const std::vector<int>& slots);

}  // namespace luksfs::crypto
