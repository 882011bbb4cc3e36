// Token-bucket rate limiter keyed by a string (a user, an API key, a login name or address).
//
// Each key owns a bucket of `burst` tokens refilled at `rate_per_s`; a request takes one token
// or is refused with the time until one is available (for Retry-After). Buckets idle long
// enough to be full are forgotten once the map holds more than kMaxBuckets, so memory stays
// bounded whatever the keys. Time is passed in so tests control it.
// Thread-safety: all methods may be called concurrently (one mutex).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace dkb::auth {

struct RateDecision {
  bool allowed = true;
  double retry_after_s = 0;  // when refused: seconds until one token is available
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxBuckets = 100000;

  // Takes one token from key's bucket. rate_per_s ≤ 0 means unlimited.
  RateDecision take(const std::string& key, double rate_per_s, double burst,
                    Clock::time_point now = Clock::now());
  // Whether a token is available, without taking it.
  RateDecision peek(const std::string& key, double rate_per_s, double burst,
                    Clock::time_point now = Clock::now());
  size_t size() const;

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point last;
  };
  Bucket& refill(const std::string& key, double rate_per_s, double burst, Clock::time_point now);
  void evict_full(double rate_per_s, double burst, Clock::time_point now);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace dkb::auth
