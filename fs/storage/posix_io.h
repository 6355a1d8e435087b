// Whole-buffer pread/pwrite on a file descriptor: retries on EINTR and
// short transfers. The one place file I/O errno becomes a Status.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"

namespace luksfs::fs {

// Reads exactly dst.size() bytes at `offset`. End of file first is
// kCorruption ("<what>: end of file at byte N"); OS errors kIOError.
Status PreadAll(int fd, uint64_t offset, std::span<uint8_t> dst,
                std::string_view what);

// Writes all of src at `offset`. OS errors are kIOError naming `what`.
Status PwriteAll(int fd, uint64_t offset, std::span<const uint8_t> src,
                 std::string_view what);

}  // namespace luksfs::fs
