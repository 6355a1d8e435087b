// ThreadPool: a fixed set of worker threads running submitted closures.
//
// Used by the crypt engine to spread the sector units of one large request
// over the cores. Workers are started by the constructor and joined by the
// destructor (after the queue drains).
//
// Thread-safety: Submit() may be called from any thread concurrently.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace luksfs {

class ThreadPool {
 public:
  // `threads` workers; each runs `on_start(index)` first (may be empty).
  explicit ThreadPool(unsigned threads,
                      std::function<void(unsigned)> on_start = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()); }

  // Runs `task` on some worker. The task must not throw.
  void Submit(std::function<void()> task);

 private:
  void WorkerLoop(unsigned index, const std::function<void(unsigned)>& start);

  // mu_ guards queue_ and stopping_. Never held while a task runs.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// Latch: waits until Count() was called `n` times.
class Latch {
 public:
  explicit Latch(size_t n) : remaining_(n) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--remaining_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return remaining_ == 0; });
  }

 private:
  std::mutex mu_;  // guards remaining_
  std::condition_variable cv_;
  size_t remaining_;
};

}  // namespace luksfs
