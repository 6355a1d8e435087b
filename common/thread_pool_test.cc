#include "common/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace luksfs {
namespace {

TEST(ThreadPoolTest, SizeMatchesRequest) {
  ThreadPool p1(1);
  EXPECT_EQ(p1.size(), 1u);
  ThreadPool p4(4);
  EXPECT_EQ(p4.size(), 4u);
  ThreadPool p0(0);
  EXPECT_EQ(p0.size(), 0u);
}

TEST(ThreadPoolTest, RunsEveryTaskExactlyOnce) {
  constexpr int kTasks = 1000;
  std::vector<std::atomic<int>> hits(kTasks);
  for (auto& h : hits) h = 0;
  Latch done(kTasks);
  ThreadPool pool(4);
  for (int i = 0; i < kTasks; ++i) {
    pool.Submit([&hits, &done, i] {
      hits[i].fetch_add(1);
      done.CountDown();
    });
  }
  done.Wait();
  for (int i = 0; i < kTasks; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
}

TEST(ThreadPoolTest, OnStartRunsOncePerWorkerWithDistinctIndex) {
  std::mutex mu;
  std::multiset<unsigned> started;
  {
    // Latches outlive the pool: its destructor joins the workers first.
    Latch all_running(5);
    Latch release(1);
    ThreadPool pool(5, [&](unsigned i) {
      std::lock_guard<std::mutex> l(mu);
      started.insert(i);
    });
    // Make sure every worker is past on_start: give each a blocking task.
    for (int i = 0; i < 5; ++i) {
      pool.Submit([&] {
        all_running.CountDown();
        release.Wait();
      });
    }
    all_running.Wait();  // 5 tasks at once means 5 distinct workers
    release.CountDown();
  }
  EXPECT_EQ(started, (std::multiset<unsigned>{0, 1, 2, 3, 4}));
}

TEST(ThreadPoolTest, TasksRunInParallel) {
  // 3 tasks that each wait for the other two only complete if 3 workers
  // run them concurrently.
  Latch meet(3);
  Latch done(3);
  ThreadPool pool(3);
  for (int i = 0; i < 3; ++i) {
    pool.Submit([&] {
      meet.CountDown();
      meet.Wait();
      done.CountDown();
    });
  }
  done.Wait();
  SUCCEED();
}

TEST(ThreadPoolTest, TasksRunOffTheSubmittingThread) {
  std::thread::id ran_on;
  Latch done(1);
  ThreadPool pool(2);
  pool.Submit([&] {
    ran_on = std::this_thread::get_id();
    done.CountDown();
  });
  done.Wait();
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

TEST(ThreadPoolTest, DestructorDrainsQueue) {
  std::atomic<int> ran{0};
  constexpr int kTasks = 200;
  {
    ThreadPool pool(2);
    for (int i = 0; i < kTasks; ++i) {
      pool.Submit([&ran] {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        ran.fetch_add(1);
      });
    }
    // No wait here: the destructor must run everything still queued.
  }
  EXPECT_EQ(ran.load(), kTasks);
}

TEST(ThreadPoolTest, ConcurrentSubmitters) {
  constexpr int kSubmitters = 4, kPer = 250;
  std::atomic<int> ran{0};
  Latch done(kSubmitters * kPer);
  ThreadPool pool(3);
  std::vector<std::thread> submitters;
  for (int s = 0; s < kSubmitters; ++s) {
    submitters.emplace_back([&] {
      for (int i = 0; i < kPer; ++i) {
        pool.Submit([&] {
          ran.fetch_add(1);
          done.CountDown();
        });
      }
    });
  }
  for (auto& t : submitters) t.join();
  done.Wait();
  EXPECT_EQ(ran.load(), kSubmitters * kPer);
}

TEST(LatchTest, WaitReturnsOnlyAfterAllCounts) {
  Latch latch(3);
  std::atomic<bool> passed{false};
  std::thread waiter([&] {
    latch.Wait();
    passed = true;
  });
  latch.CountDown();
  latch.CountDown();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(passed.load());
  latch.CountDown();
  waiter.join();
  EXPECT_TRUE(passed.load());
}

TEST(LatchTest, ZeroCountDoesNotBlock) {
  Latch latch(0);
  latch.Wait();
  SUCCEED();
}

TEST(LatchTest, ManyWaiters) {
  Latch latch(1);
  std::atomic<int> woke{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([&] {
      latch.Wait();
      woke.fetch_add(1);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(woke.load(), 0);
  latch.CountDown();
  for (auto& t : ts) t.join();
  EXPECT_EQ(woke.load(), 4);
}

}  // namespace
}  // namespace luksfs
