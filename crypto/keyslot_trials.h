// Ordered parallel trials: run keyslot attempts concurrently on idle cores
// while keeping the answer a one-after-another loop would give.
//
// Without --key-slot, cryptsetup tries keyslots one after another, so a
// passphrase in the third slot costs three KDFs. RunOrderedTrials starts
// trial i+1 while trial i runs whenever that costs trial i nothing: the
// cores the running trials use plus the next one's fit in `cores`, and
// their Argon2 memory fits in `memory_cap_kib`. The first trial always
// starts, with the cores it asks for.
//
// The answer is the sequential one: results are consumed in order and the
// run stops at the first "terminal" result (a match, or an error that ends
// the search). A later trial that matched first is simply not used while
// an earlier one is still running. Trials after the terminal one are
// cancelled (their `cancel` flag is set; the PBKDF2 fast path polls it,
// libargon2 cannot be interrupted and runs to its end) and their results
// discarded (wiped: results are SecureBuffers).
//
// Thread-safety: RunOrderedTrials is reentrant; `fn` is called from
// several threads at once (each with its own index) and must be safe for
// that. All threads are joined before it returns.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::crypto {

struct TrialCost {
  uint32_t threads = 1;      // cores the trial keeps busy (>= 1)
  uint64_t memory_kib = 0;   // Argon2 memory it allocates
};

// fn(i, cancel) runs trial i; it may return early (any error) once
// *cancel is true.
using TrialFn =
    std::function<Result<SecureBuffer>(size_t i, const std::atomic<bool>& cancel)>;
using TerminalFn = std::function<bool(const Result<SecureBuffer>&)>;

// Returns results[0..k], where k is the first index whose result is
// terminal (or costs.size()-1 if none is); every element is set.
std::vector<Result<SecureBuffer>> RunOrderedTrials(
    const std::vector<TrialCost>& costs, uint32_t cores,
    uint64_t memory_cap_kib, const TrialFn& fn, const TerminalFn& terminal);

}  // namespace luksfs::crypto
