// Whole-buffer pread/pwrite on a file descriptor: retries on EINTR and
// short transfers. The one place file I/O errno becomes a Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"

namespace luksfs::fs {

// Reads exactly dst.size() bytes at `offset`. End of file first is
// kCorruption ("<what>: end of file at byte N"); OS errors kIOError.
Status PreadAll(int fd, uint64_t offset, std::span<uint8_t> dst,
                std::string_view what);

// The largest single pwrite(2) PwriteAll issues, in bytes. The kernel
// sizes the page-cache folios of a buffered write after the write: one of
// 2 MiB or more asks for 2 MiB folios, a high-order allocation. On a VM
// with free page reporting (virtio-balloon), such blocks are memory the
// host has taken back, and the copy into them faults every page in on the
// host: a 1 GiB convert took 1.5-4 s in 8 MiB writes, 0.6-0.8 s (as fast as
// cp) in 256 KiB ones (doc/perf.md). Smaller writes cost only the calls.
inline constexpr size_t kMaxPwriteBytes = 256 * 1024;

// Writes all of src at `offset`, in calls of at most kMaxPwriteBytes.
// OS errors are kIOError naming `what` and the byte where the write failed.
Status PwriteAll(int fd, uint64_t offset, std::span<const uint8_t> src,
                 std::string_view what);

}  // namespace luksfs::fs
