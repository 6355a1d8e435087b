#include "common/retry_policy.h"

#include <gtest/gtest.h>

namespace luksfs {
namespace {

using ms = std::chrono::milliseconds;

TEST(RetryPolicyTest, KmsIsThreeTriesLinearAsBefore) {
  RetryPolicy p = RetryPolicy::Kms();
  EXPECT_EQ(p.max_retries, 2u);
  EXPECT_EQ(p.Delay(0), ms(100));
  EXPECT_EQ(p.Delay(1), ms(200));
  EXPECT_EQ(p.Delay(30), ms(1000));  // capped, no overflow
}

TEST(RetryPolicyTest, S3DoublesWithJitterUnderTheCap) {
  RetryPolicy p = RetryPolicy::S3(8);
  EXPECT_EQ(p.max_retries, 8u);
  for (unsigned r = 0; r < 12; ++r) {
    const uint64_t d = std::min<uint64_t>(5000, 200ull << r);
    for (int i = 0; i < 50; ++i) {
      const auto got = p.Delay(r).count();
      EXPECT_GE(uint64_t(got), d / 2) << r;
      EXPECT_LE(uint64_t(got), d) << r;
    }
  }
}

TEST(RetryPolicyTest, RetryableStatuses) {
  for (long s : {429L, 500L, 502L, 503L, 504L}) EXPECT_TRUE(RetryableHttpStatus(s)) << s;
  for (long s : {200L, 206L, 400L, 403L, 404L, 410L, 501L}) EXPECT_FALSE(RetryableHttpStatus(s)) << s;
}

}  // namespace
}  // namespace luksfs
