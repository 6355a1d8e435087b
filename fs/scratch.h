// Per-thread scratch buffers of the data path: page-aligned, grown to the
// largest request a thread has seen and then reused, so no request
// allocates. They hold plaintext (unaligned reads, FUSE read replies), so
// WipeAllScratch() zeroes every thread's buffers when the keys are dropped:
// after a revocation no plaintext stays in the daemon's memory either.
//
// Thread-safety: ThreadScratch() returns memory owned by the calling thread
// (valid until its next call with the same slot). WipeAllScratch() may run
// on any thread; a request still in flight at that moment may see zeros,
// which is acceptable because every I/O after revocation fails anyway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace luksfs::fs {

enum class ScratchSlot { kVolume = 0, kReply = 1 };

// Throws std::bad_alloc when memory is short (the FUSE layer turns that
// into ENOMEM).
std::span<uint8_t> ThreadScratch(ScratchSlot slot, size_t bytes);

void WipeAllScratch();

}  // namespace luksfs::fs
