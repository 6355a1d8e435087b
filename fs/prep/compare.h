// ComparePlain: are two images' plaintexts the same? As `qemu-img
// compare`: the common part must be equal; when the sizes differ the rest
// of the larger one must read as zeros (or, with `strict`, the sizes alone
// make them differ). A and B are read in 8 MiB blocks, both at once.
//
// Thread-safety: reentrant. Stops early (kUnavailable "interrupted") when
// Interrupted() turns true.
#pragma once

#include <cstdint>
#include <functional>

#include "common/result.h"
#include "fs/prep/plain_image.h"

namespace luksfs::fs::prep {

struct CompareResult {
  bool identical = true;
  uint64_t first_difference = 0;  // byte offset, when !identical
  bool size_mismatch = false;
};

Result<CompareResult> ComparePlain(const PlainImage& a, const PlainImage& b,
                                   bool strict,
                                   const std::function<void(uint64_t)>& progress);

}  // namespace luksfs::fs::prep
