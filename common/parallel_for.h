// ParallelFor: fn(0..n-1) on the calling thread and up to `helpers` tasks
// of a ThreadPool, the one way the project spreads a loop of blocking work
// (S3 ranged GETs, part uploads) over threads it already has.
//
// Returns the first failure; after it, no new index is handed out (indices
// already running finish). The caller always works too, and helper tasks
// that start after the loop is over do nothing, so nested calls on the same
// pool cannot deadlock even when every pool thread is busy.
// Thread-safety: fn is called concurrently from several threads.
#pragma once

#include <cstddef>
#include <functional>

#include "common/status.h"
#include "common/thread_pool.h"

namespace luksfs {

// `pool` may be null (or helpers 0): everything runs on the caller.
Status ParallelFor(ThreadPool* pool, unsigned helpers, size_t n,
                   const std::function<Status(size_t)>& fn);

}  // namespace luksfs
