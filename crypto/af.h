// The LUKS anti-forensic information splitter (cryptsetup lib/luks1/af.c).
//
// A key of B bytes is stored as `stripes` blocks of B bytes; all but the last
// are random, and the last is key XOR diffuse-chain(previous blocks).
// Destroying any part of the material makes the key unrecoverable.
// Thread-safety: reentrant. Secrets: `material` and `key` are the caller's
// (keep them in SecureBuffers); internal scratch is wiped.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"

namespace luksfs::crypto {

// key = AF-merge(material). REQUIRES: material.size() >= key.size()*stripes.
// Errors: kNotSupported (unknown hash), kInvalidArgument (sizes).
Status AfMerge(std::span<const uint8_t> material, uint32_t stripes,
               std::string_view hash, std::span<uint8_t> key);

// material = AF-split(key) with fresh random stripes (for writing keyslots).
// REQUIRES: material.size() >= key.size()*stripes.
Status AfSplit(std::span<const uint8_t> key, uint32_t stripes,
               std::string_view hash, std::span<uint8_t> material);

// Bytes the split material occupies on disk: ceil(key_bytes*stripes/512)*512.
uint64_t AfSplitSize(uint64_t key_bytes, uint32_t stripes);

}  // namespace luksfs::crypto
