#include "common/parallel_for.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace luksfs {
namespace {

TEST(ParallelForTest, RunsEveryIndexOnceAcrossThreads) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  std::mutex mu;
  std::set<std::thread::id> threads;
  Status s = ParallelFor(&pool, 3, hits.size(), [&](size_t i) {
    hits[i]++;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    std::lock_guard<std::mutex> l(mu);
    threads.insert(std::this_thread::get_id());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok());
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  EXPECT_GT(threads.size(), 1u);
}

TEST(ParallelForTest, WithoutAPoolTheCallerDoesAll) {
  int sum = 0;
  ASSERT_TRUE(ParallelFor(nullptr, 4, 10, [&](size_t i) {
                sum += int(i);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(sum, 45);
  EXPECT_TRUE(ParallelFor(nullptr, 0, 0, [](size_t) { return Status::IOError("x", 0); }).ok());
}

TEST(ParallelForTest, FirstFailureStopsNewWork) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  Status s = ParallelFor(&pool, 2, 100000, [&](size_t i) {
    ran++;
    return i == 5 ? Status::IOError("part 5 failed", 0) : Status::Ok();
  });
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(s.message(), "part 5 failed");
  EXPECT_LT(ran.load(), 100000);
}

// Every pool thread runs an outer index that starts an inner loop on the
// same pool: the inner helpers cannot start, the callers do the work.
TEST(ParallelForTest, NestedOnTheSamePoolDoesNotDeadlock) {
  ThreadPool pool(2);
  std::atomic<int> inner{0};
  Status s = ParallelFor(&pool, 2, 6, [&](size_t) {
    return ParallelFor(&pool, 2, 50, [&](size_t) {
      inner++;
      return Status::Ok();
    });
  });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(inner.load(), 300);
}

}  // namespace
}  // namespace luksfs
