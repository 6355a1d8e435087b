#include "common/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace luksfs {

namespace {

struct LoopState {
  explicit LoopState(size_t n, const std::function<Status(size_t)>& f)
      : n(n), fn(f) {}
  const size_t n;
  const std::function<Status(size_t)>& fn;  // valid while !done
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;  // guards first, active, done
  std::condition_variable idle;  // with mu: active dropped to 0
  Status first;
  int active = 0;
  bool done = false;

  void Work() {
    while (!failed.load()) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok()) first = s;
        failed = true;
      }
    }
  }
};

}  // namespace

Status ParallelFor(ThreadPool* pool, unsigned helpers, size_t n,
                   const std::function<Status(size_t)>& fn) {
  if (n == 0) return Status::Ok();
  auto state = std::make_shared<LoopState>(n, fn);
  const size_t extra =
      pool == nullptr ? 0 : std::min<size_t>(helpers, n - 1);
  for (size_t i = 0; i < extra; ++i) {
    pool->Submit([state] {
      {
        std::lock_guard<std::mutex> l(state->mu);
        if (state->done) return;  // the loop is over: fn may be gone
        ++state->active;
      }
      state->Work();
      std::lock_guard<std::mutex> l(state->mu);
      if (--state->active == 0) state->idle.notify_all();
    });
  }
  state->Work();
  std::unique_lock<std::mutex> l(state->mu);
  state->done = true;
  state->idle.wait(l, [&] { return state->active == 0; });
  return state->first;
}

}  // namespace luksfs
