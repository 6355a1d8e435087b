#include "fs/range_lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

namespace luksfs::fs {
namespace {

using std::chrono::milliseconds;

// Guards are neither copyable nor movable; a test that must release one at a
// chosen moment holds it via `new Guard(lock.Lock(...))` (guaranteed copy
// elision) in a unique_ptr.

// Polls `pred` for up to 2 s. A lock that wrongly blocks then shows up as a
// failed expectation instead of a hung test.
template <typename Pred>
bool WaitFor(Pred pred) {
  for (int i = 0; i < 2000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return pred();
}

// Tracks how many holders are inside a critical section at once.
struct Occupancy {
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  void Enter() {
    int now = inside.fetch_add(1) + 1;
    int prev = max_inside.load();
    while (now > prev && !max_inside.compare_exchange_weak(prev, now)) {
    }
  }
  void Leave() { inside.fetch_sub(1); }
};

// Runs `n` threads; thread i locks ranges[i % ranges.size()] `iters` times
// and sleeps briefly inside. Returns the peak number of simultaneous holders.
int PeakHolders(RangeLock& lock,
                const std::vector<std::pair<uint64_t, uint64_t>>& ranges, int n,
                int iters, std::chrono::microseconds hold) {
  Occupancy occ;
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) {
    auto r = ranges[i % ranges.size()];
    ts.emplace_back([&, r] {
      for (int k = 0; k < iters; ++k) {
        RangeLock::Guard g = lock.Lock(r.first, r.second);
        occ.Enter();
        std::this_thread::sleep_for(hold);
        occ.Leave();
      }
    });
  }
  for (auto& t : ts) t.join();
  return occ.max_inside.load();
}

TEST(RangeLockTest, LockAndRelease) {
  RangeLock lock;
  { RangeLock::Guard g = lock.Lock(0, 10); }
  // Released: the same range can be taken again from another thread.
  std::atomic<bool> got{false};
  std::thread t([&] {
    RangeLock::Guard g = lock.Lock(0, 10);
    got = true;
  });
  t.join();
  EXPECT_TRUE(got.load());
}

TEST(RangeLockTest, DisjointRangesDoNotBlock) {
  RangeLock lock;
  std::unique_ptr<RangeLock::Guard> held(
      new RangeLock::Guard(lock.Lock(0, 100)));
  std::atomic<int> got{0};
  std::thread t([&] {
    RangeLock::Guard g = lock.Lock(100, 200);
    ++got;
    RangeLock::Guard g2 = lock.Lock(1000, 1001);
    ++got;
  });
  // If disjoint ranges blocked, `got` stays short; release so join returns.
  EXPECT_TRUE(WaitFor([&] { return got.load() == 2; }))
      << "a disjoint lock waited for [0,100)";
  held.reset();
  t.join();
  EXPECT_EQ(got.load(), 2);
}

TEST(RangeLockTest, AdjacentRangesDoNotConflict) {
  RangeLock lock;
  std::unique_ptr<RangeLock::Guard> a(new RangeLock::Guard(lock.Lock(4, 8)));
  std::atomic<int> got{0};
  std::thread t([&] {
    RangeLock::Guard b = lock.Lock(0, 4);
    ++got;
    RangeLock::Guard c = lock.Lock(8, 12);
    ++got;
  });
  EXPECT_TRUE(WaitFor([&] { return got.load() == 2; }))
      << "[0,4) or [8,12) waited for [4,8)";
  a.reset();
  t.join();
  EXPECT_EQ(got.load(), 2);
}

TEST(RangeLockTest, OverlappingRangeWaitsForRelease) {
  RangeLock lock;
  std::unique_ptr<RangeLock::Guard> held(
      new RangeLock::Guard(lock.Lock(10, 20)));
  std::atomic<bool> got{false};
  std::thread t([&] {
    RangeLock::Guard g = lock.Lock(19, 30);  // overlaps at unit 19
    got = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(got.load()) << "overlapping lock was granted while held";
  held.reset();
  t.join();
  EXPECT_TRUE(got.load());
}

TEST(RangeLockTest, ContainedRangeWaits) {
  RangeLock lock;
  std::unique_ptr<RangeLock::Guard> held(
      new RangeLock::Guard(lock.Lock(0, 100)));
  std::atomic<bool> got{false};
  std::thread t([&] {
    RangeLock::Guard g = lock.Lock(50, 51);
    got = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(got.load());
  held.reset();
  t.join();
  EXPECT_TRUE(got.load());
}

TEST(RangeLockTest, OverlappingRangesSerialize) {
  RangeLock lock;
  // All of these overlap each other pairwise (all contain unit 5).
  const std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {0, 6}, {5, 10}, {2, 8}, {5, 6}};
  int peak = PeakHolders(lock, ranges, 6, 20, std::chrono::microseconds(300));
  EXPECT_EQ(peak, 1);
}

TEST(RangeLockTest, SameRangeSerializes) {
  RangeLock lock;
  int peak = PeakHolders(lock, {{7, 8}}, 8, 25, std::chrono::microseconds(200));
  EXPECT_EQ(peak, 1);
}

TEST(RangeLockTest, DisjointRangesRunConcurrently) {
  RangeLock lock;
  // Four threads on four disjoint (some adjacent) ranges, each holding long
  // enough that they overlap in time if nothing blocks them.
  const std::vector<std::pair<uint64_t, uint64_t>> ranges = {
      {0, 4}, {4, 8}, {8, 12}, {100, 200}};
  Occupancy occ;
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  for (const auto& r : ranges) {
    ts.emplace_back([&, r] {
      RangeLock::Guard g = lock.Lock(r.first, r.second);
      occ.Enter();
      ready.fetch_add(1);
      // Stay inside until all four are inside (bounded wait).
      for (int i = 0; i < 2000 && ready.load() < 4; ++i) {
        std::this_thread::sleep_for(milliseconds(1));
      }
      occ.Leave();
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(occ.max_inside.load(), 4);
}

TEST(RangeLockTest, WaiterNeedsEveryOverlappingHolderReleased) {
  // A waiter overlapping two held ranges is granted only when both are gone.
  RangeLock lock;
  std::unique_ptr<RangeLock::Guard> a(new RangeLock::Guard(lock.Lock(0, 4)));
  std::unique_ptr<RangeLock::Guard> b(new RangeLock::Guard(lock.Lock(4, 8)));
  std::atomic<bool> got{false};
  std::thread t([&] {
    RangeLock::Guard g = lock.Lock(2, 6);
    got = true;
  });
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_FALSE(got.load());
  a.reset();
  std::this_thread::sleep_for(milliseconds(30));
  EXPECT_FALSE(got.load()) << "granted while [4,8) is still held";
  b.reset();
  t.join();
  EXPECT_TRUE(got.load());
}

}  // namespace
}  // namespace luksfs::fs
