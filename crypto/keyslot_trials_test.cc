// Ordered parallel trials: the answer is the sequential one, the core and
// memory bounds hold, and unneeded trials are cancelled.
#include "crypto/keyslot_trials.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace luksfs::crypto {
namespace {

using std::chrono::milliseconds;

Result<SecureBuffer> Match(uint8_t tag) {
  Result<SecureBuffer> b = SecureBuffer::Create(1);
  b.value().data()[0] = tag;
  return b;
}

bool Terminal(const Result<SecureBuffer>& r) {
  return r.ok() || r.status().code() == Status::Code::kIOError;
}

// Tracks how many trials run at once.
struct Gauge {
  std::atomic<int> now{0}, peak{0};
  void Enter() {
    const int v = ++now;
    int p = peak.load();
    while (v > p && !peak.compare_exchange_weak(p, v)) {
    }
  }
  void Leave() { --now; }
};

TEST(OrderedTrialsTest, EarlierMatchWinsOverFasterLaterMatch) {
  // Trials 2 and 3 both match; 3 finishes long before 2.
  std::vector<TrialCost> costs(4);
  auto results = RunOrderedTrials(
      costs, 4, 0,
      [](size_t i, const std::atomic<bool>&) -> Result<SecureBuffer> {
        if (i == 2) {
          std::this_thread::sleep_for(milliseconds(150));
          return Match(2);
        }
        if (i == 3) return Match(3);
        std::this_thread::sleep_for(milliseconds(20));
        return Status::PermissionDenied("no");
      },
      Terminal);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(results[1].status().code(), Status::Code::kPermissionDenied);
  ASSERT_TRUE(results[2].ok());
  EXPECT_EQ(results[2].value().data()[0], 2);
}

TEST(OrderedTrialsTest, IoErrorBeforeAMatchEndsTheSearch) {
  std::vector<TrialCost> costs(3);
  auto results = RunOrderedTrials(
      costs, 3, 0,
      [](size_t i, const std::atomic<bool>&) -> Result<SecureBuffer> {
        if (i == 1) {
          std::this_thread::sleep_for(milliseconds(50));
          return Status::IOError("read", 5);
        }
        if (i == 2) return Match(2);
        return Status::PermissionDenied("no");
      },
      Terminal);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].status().code(), Status::Code::kIOError);
}

TEST(OrderedTrialsTest, NoMatchReturnsEveryResult) {
  std::vector<TrialCost> costs(5);
  auto results = RunOrderedTrials(
      costs, 2, 0,
      [](size_t, const std::atomic<bool>&) -> Result<SecureBuffer> {
        return Status::PermissionDenied("no");
      },
      Terminal);
  EXPECT_EQ(results.size(), 5u);
}

TEST(OrderedTrialsTest, CoresBoundConcurrency) {
  for (uint32_t cores : {1u, 2u, 3u}) {
    Gauge g;
    std::vector<TrialCost> costs(6);
    RunOrderedTrials(
        costs, cores, 0,
        [&](size_t, const std::atomic<bool>&) -> Result<SecureBuffer> {
          g.Enter();
          std::this_thread::sleep_for(milliseconds(30));
          g.Leave();
          return Status::PermissionDenied("no");
        },
        Terminal);
    EXPECT_EQ(g.peak.load(), static_cast<int>(cores)) << cores;
  }
}

TEST(OrderedTrialsTest, MultiThreadedTrialsDoNotOversubscribe) {
  // Each trial wants 2 of 3 cores: only one at a time. The first one always
  // starts, even when it alone asks for more than there is.
  Gauge g;
  std::vector<TrialCost> costs(3, TrialCost{2, 0});
  RunOrderedTrials(
      costs, 3, 0,
      [&](size_t, const std::atomic<bool>&) -> Result<SecureBuffer> {
        g.Enter();
        std::this_thread::sleep_for(milliseconds(20));
        g.Leave();
        return Status::PermissionDenied("no");
      },
      Terminal);
  EXPECT_EQ(g.peak.load(), 1);
  std::vector<TrialCost> big(2, TrialCost{8, 0});
  auto r = RunOrderedTrials(
      big, 2, 0,
      [](size_t, const std::atomic<bool>&) -> Result<SecureBuffer> {
        return Match(1);
      },
      Terminal);
  EXPECT_EQ(r.size(), 1u);
}

TEST(OrderedTrialsTest, MemoryCapBoundsConcurrentArgon2) {
  Gauge g;
  std::vector<TrialCost> costs(4, TrialCost{1, 600});
  RunOrderedTrials(
      costs, 4, 1000,
      [&](size_t, const std::atomic<bool>&) -> Result<SecureBuffer> {
        g.Enter();
        std::this_thread::sleep_for(milliseconds(20));
        g.Leave();
        return Status::PermissionDenied("no");
      },
      Terminal);
  EXPECT_EQ(g.peak.load(), 1);
  Gauge g2;
  std::vector<TrialCost> small(4, TrialCost{1, 500});
  RunOrderedTrials(
      small, 4, 1000,
      [&](size_t, const std::atomic<bool>&) -> Result<SecureBuffer> {
        g2.Enter();
        std::this_thread::sleep_for(milliseconds(40));
        g2.Leave();
        return Status::PermissionDenied("no");
      },
      Terminal);
  EXPECT_EQ(g2.peak.load(), 2);
}

TEST(OrderedTrialsTest, LaterTrialsAreCancelledAfterAMatch) {
  std::vector<TrialCost> costs(2);
  std::atomic<bool> saw_cancel{false};
  const auto t0 = std::chrono::steady_clock::now();
  auto results = RunOrderedTrials(
      costs, 2, 0,
      [&](size_t i, const std::atomic<bool>& cancel) -> Result<SecureBuffer> {
        if (i == 0) {
          std::this_thread::sleep_for(milliseconds(20));
          return Match(0);
        }
        // A long trial that honours cancellation.
        for (int k = 0; k < 1000 && !cancel.load(); ++k) {
          std::this_thread::sleep_for(milliseconds(10));
        }
        saw_cancel = cancel.load();
        return Status::Unavailable("cancelled");
      },
      Terminal);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(saw_cancel.load());
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(OrderedTrialsTest, EmptyAndSingle) {
  EXPECT_TRUE(RunOrderedTrials({}, 2, 0, nullptr, Terminal).empty());
  auto r = RunOrderedTrials(
      std::vector<TrialCost>(1), 2, 0,
      [](size_t, const std::atomic<bool>&) -> Result<SecureBuffer> {
        return Match(7);
      },
      Terminal);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].value().data()[0], 7);
}

}  // namespace
}  // namespace luksfs::crypto
