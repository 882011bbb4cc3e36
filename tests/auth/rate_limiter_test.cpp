#include <gtest/gtest.h>

#include "auth/rate_limiter.h"

namespace dkb::auth {
namespace {

using Clock = RateLimiter::Clock;
using std::chrono::milliseconds;

TEST(RateLimiterTest, BurstThenRefusalWithRetryAfter) {
  RateLimiter rl;
  auto t0 = Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(rl.take("k", 1.0, 3, t0).allowed) << i;
  RateDecision d = rl.take("k", 1.0, 3, t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_NEAR(d.retry_after_s, 1.0, 1e-9);
  // Half a second later half a token is back: still refused, half a second to wait.
  d = rl.take("k", 1.0, 3, t0 + milliseconds(500));
  EXPECT_FALSE(d.allowed);
  EXPECT_NEAR(d.retry_after_s, 0.5, 1e-6);
  EXPECT_TRUE(rl.take("k", 1.0, 3, t0 + milliseconds(1000)).allowed);
}

TEST(RateLimiterTest, RefillIsCappedAtBurst) {
  RateLimiter rl;
  auto t0 = Clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(rl.take("k", 10.0, 2, t0).allowed);
  auto later = t0 + std::chrono::hours(1);
  EXPECT_TRUE(rl.take("k", 10.0, 2, later).allowed);
  EXPECT_TRUE(rl.take("k", 10.0, 2, later).allowed);
  EXPECT_FALSE(rl.take("k", 10.0, 2, later).allowed);
}

TEST(RateLimiterTest, KeysAreIndependentAndZeroRateIsUnlimited) {
  RateLimiter rl;
  auto t0 = Clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(rl.take("a", 1.0, 1, t0).allowed);
  EXPECT_FALSE(rl.take("a", 1.0, 1, t0).allowed);
  EXPECT_TRUE(rl.take("b", 1.0, 1, t0).allowed);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(rl.take("c", 0, 1, t0).allowed);
}

TEST(RateLimiterTest, PeekDoesNotConsume) {
  RateLimiter rl;
  auto t0 = Clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(rl.peek("k", 1.0, 1, t0).allowed);  // unknown key: full bucket
  EXPECT_TRUE(rl.peek("k", 1.0, 1, t0).allowed);
  EXPECT_TRUE(rl.take("k", 1.0, 1, t0).allowed);
  EXPECT_FALSE(rl.peek("k", 1.0, 1, t0).allowed);
  EXPECT_FALSE(rl.take("k", 1.0, 1, t0).allowed);
}

TEST(RateLimiterTest, MemoryStaysBounded) {
  RateLimiter rl;
  auto t0 = Clock::time_point{} + std::chrono::hours(1);
  for (size_t i = 0; i < RateLimiter::kMaxBuckets + 10; ++i) {
    (void)rl.take("k" + std::to_string(i), 1000.0, 5, t0 + milliseconds(i));
  }
  EXPECT_LE(rl.size(), RateLimiter::kMaxBuckets);
}

}  // namespace
}  // namespace dkb::auth
