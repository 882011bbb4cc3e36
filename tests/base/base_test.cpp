#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor_type.h"
#include "base/thread_pool.h"
#include "base/utf8.h"

namespace dkb {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return invalid_argument("value must be positive, got " + std::to_string(v));
  return v;
}

Status use_parse(int v, int* out) {
  DKB_ASSIGN_OR_RETURN(int x, parse_positive(v));
  *out = x;
  return Status::ok();
}

TEST(Status, CarriesCodeAndContext) {
  Status s = invalid_argument("bad thing");
  EXPECT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.with_context("loading x").to_string(), "invalid_argument: loading x: bad thing");
  EXPECT_TRUE(Status::ok().is_ok());
}

TEST(Result, PropagatesErrors) {
  int out = 0;
  EXPECT_TRUE(use_parse(5, &out).is_ok());
  EXPECT_EQ(out, 5);
  Status s = use_parse(-1, &out);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "value must be positive, got -1");
}

TEST(TensorType, MatchesGgmlGeometry) {
  EXPECT_EQ(tensor_row_size(TensorType::kQ4_0, 64), 36u);
  EXPECT_EQ(tensor_row_size(TensorType::kQ4_K, 512), 288u);
  EXPECT_EQ(tensor_row_size(TensorType::kQ6_K, 256), 210u);
  EXPECT_EQ(tensor_row_size(TensorType::kBF16, 3), 6u);
  EXPECT_FALSE(tensor_type_traits(4).has_value());  // removed Q4_2
  EXPECT_EQ(tensor_type_from_name("Q8_0"), TensorType::kQ8_0);
}

TEST(ThreadPool, RunsEveryIndexOnce) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<std::atomic<int>> hits(3);
    pool.run([&](int ith, int nth) {
      EXPECT_EQ(nth, 3);
      hits[ith].fetch_add(1);
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, SplitCoversRange) {
  int64_t covered = 0;
  for (int i = 0; i < 4; ++i) {
    auto [b, e] = ThreadPool::split(10, i, 4);
    covered += e - b;
  }
  EXPECT_EQ(covered, 10);
}

TEST(Utf8, IncompleteTail) {
  std::string s = "a\xe4\xbd";  // "a" + first two bytes of U+4F60
  EXPECT_EQ(utf8::incomplete_tail(s), 2u);
  EXPECT_EQ(utf8::incomplete_tail("a\xe4\xbd\xa0"), 0u);
  EXPECT_EQ(utf8::incomplete_tail(""), 0u);
  EXPECT_FALSE(utf8::is_valid("\xff"));
  EXPECT_TRUE(utf8::is_valid("\xe4\xbd\xa0\xe5\xa5\xbd"));
}

}  // namespace
}  // namespace dkb
