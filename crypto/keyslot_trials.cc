#include "crypto/keyslot_trials.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace luksfs::crypto {

std::vector<Result<SecureBuffer>> RunOrderedTrials(
    const std::vector<TrialCost>& costs, uint32_t cores,
    uint64_t memory_cap_kib, const TrialFn& fn, const TerminalFn& terminal) {
  const size_t n = costs.size();
  std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu: the scheduler's view.
  std::vector<std::optional<Result<SecureBuffer>>> results(n);
  size_t next = 0;           // first trial not started
  size_t stop = n;           // trials at index >= stop are not needed
  uint64_t busy_threads = 0, busy_kib = 0;
  size_t running = 0;
  // Not guarded: each flag is written by the scheduler, read by its trial.
  std::unique_ptr<std::atomic<bool>[]> cancel(new std::atomic<bool>[n]);
  for (size_t i = 0; i < n; ++i) cancel[i] = false;
  std::vector<std::thread> threads;
  threads.reserve(n);

  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    while (next < stop) {
      const TrialCost& c = costs[next];
      const bool fits = busy_threads + c.threads <= cores &&
                        busy_kib + c.memory_kib <= memory_cap_kib;
      if (running > 0 && !fits) break;
      const size_t i = next++;
      busy_threads += c.threads;
      busy_kib += c.memory_kib;
      ++running;
      auto finish = [&, i](Result<SecureBuffer> r) {
        results[i].emplace(std::move(r));
        busy_threads -= costs[i].threads;
        busy_kib -= costs[i].memory_kib;
        --running;
        cv.notify_all();
      };
      bool inline_run = n == 1;  // nothing to overlap: no thread
      if (!inline_run) {
        try {
          threads.emplace_back([&, i, finish] {
            Result<SecureBuffer> r = fn(i, cancel[i]);
            std::lock_guard<std::mutex> g(mu);
            finish(std::move(r));
          });
        } catch (const std::system_error&) {
          inline_run = true;  // no thread available: run it here
        }
      }
      if (inline_run) {
        lock.unlock();
        Result<SecureBuffer> r = fn(i, cancel[i]);
        lock.lock();
        finish(std::move(r));
      }
    }
    // Consume finished results in order; the first terminal one decides.
    size_t done = 0;
    while (done < stop && results[done].has_value()) {
      if (terminal(*results[done])) {
        stop = done + 1;
        for (size_t j = stop; j < n; ++j) cancel[j] = true;
        break;
      }
      ++done;
    }
    if (done >= stop || (stop == done + 1 && results[done].has_value())) break;
    cv.wait(lock);
  }
  lock.unlock();
  for (std::thread& t : threads) t.join();

  std::vector<Result<SecureBuffer>> out;
  out.reserve(stop);
  for (size_t i = 0; i < stop; ++i) out.push_back(std::move(*results[i]));
  return out;  // results past `stop` are destroyed (wiped) with `results`
}

}  // namespace luksfs::crypto
