#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "engine/sampler.h"

namespace dkb::engine {
namespace {

std::vector<float> logits5() { return {1.0f, 3.0f, 2.0f, -1.0f, 0.5f}; }

TEST(Sampler, GreedyPicksArgmax) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 5);
  auto l = logits5();
  EXPECT_EQ(s.sample(l.data()), 1);
}

TEST(Sampler, SameSeedSameSequence) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0;
  p.seed = 1234;
  auto l = logits5();
  std::vector<int32_t> a, b;
  Sampler s1(p, 5), s2(p, 5);
  for (int i = 0; i < 50; ++i) {
    a.push_back(s1.sample(l.data()));
    b.push_back(s2.sample(l.data()));
  }
  EXPECT_EQ(a, b);
  std::map<int32_t, int> seen;
  for (int32_t t : a) ++seen[t];
  EXPECT_GT(seen.size(), 2u) << "temperature 1.5 should explore";
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 1;
  p.seed = 7;
  Sampler s(p, 5);
  auto l = logits5();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s.sample(l.data()), 1);
}

TEST(Sampler, MinPAndTopPCutTheTail) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.5f;  // keeps tokens with p >= 0.5 * p(top): logits >= 3 + ln 0.5 → only id 1, 2
  p.seed = 3;
  Sampler s(p, 5);
  auto l = logits5();
  for (int i = 0; i < 100; ++i) {
    int32_t t = s.sample(l.data());
    EXPECT_TRUE(t == 1 || t == 2) << t;
  }
  SamplingParams q = p;
  q.min_p = 0;
  q.top_p = 0.5f;  // the top token alone has p ≈ 0.6
  Sampler s2(q, 5);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(s2.sample(l.data()), 1);
}

TEST(Sampler, RepeatPenaltyDemotesSeenTokens) {
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;  // 3.0 / 2 = 1.5 < 2.0
  Sampler s(p, 5);
  s.accept(1);
  auto l = logits5();
  EXPECT_EQ(s.sample(l.data()), 2);
  SamplingParams f;
  f.temperature = 0;
  f.presence_penalty = 1.5f;
  Sampler s2(f, 5);
  s2.accept(1);
  EXPECT_EQ(s2.sample(l.data()), 2);
  SamplingParams w = p;
  w.repeat_last_n = 1;
  Sampler s3(w, 5);
  s3.accept(1);
  s3.accept(4);  // pushes 1 out of the window
  EXPECT_EQ(s3.sample(l.data()), 1);
}

TEST(Sampler, ValidateRejectsOutOfRange) {
  SamplingParams p;
  p.temperature = -1;
  EXPECT_EQ(p.validate().code(), ErrorCode::kInvalidArgument);
  p = {};
  p.top_p = 0;
  EXPECT_FALSE(p.validate().is_ok());
  p = {};
  p.frequency_penalty = 5;
  EXPECT_FALSE(p.validate().is_ok());
  EXPECT_TRUE(SamplingParams{}.validate().is_ok());
}

TEST(Sampler, LogitBiasShiftsTokensBeforeSampling) {
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias = {{1, -100.0f}, {3, 3.5f}, {99, 100.0f}};  // id 99 is outside the vocabulary
  Sampler s(p, 5);
  auto l = logits5();
  EXPECT_EQ(s.sample(l.data()), 3);  // -1 + 3.5 beats 2.0; token 1 is banned
  p.logit_bias = {{1, -100.0f}};
  Sampler banned(p, 5);
  EXPECT_EQ(banned.sample(l.data()), 2);
  p.logit_bias = {{0, 101.0f}};
  EXPECT_FALSE(p.validate().is_ok());
  p.logit_bias = {{-1, 1.0f}};
  EXPECT_FALSE(p.validate().is_ok());
}

}  // namespace
}  // namespace dkb::engine
