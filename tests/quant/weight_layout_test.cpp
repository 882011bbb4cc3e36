// WeightLoader::matrix: matmul weights reordered in place to the interleaved layout where the
// kernels take it, only in bytes the model owns, once, and never a tensor also read by rows.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "engine/weights.h"
#include "kernels/kernels.h"
#include "quant_test_util.h"

namespace dkb {
namespace {

using quant_test::TempDir;

constexpr int64_t kIn = 64, kOut = 32;

// A file with two Q4_0 matrices "a" and "b" [kIn, kOut] of distinct bytes.
std::string write_file(const TempDir& dir) {
  std::vector<float> f(static_cast<size_t>(kIn));
  const size_t row = tensor_row_size(TensorType::kQ4_0, kIn);
  gguf::Writer w;
  for (const char* name : {"a", "b"}) {
    std::vector<uint8_t> q(row * kOut);
    for (int64_t r = 0; r < kOut; ++r) {
      for (int64_t i = 0; i < kIn; ++i) f[i] = static_cast<float>((r * 7 + i * 3 + *name) % 17) - 8;
      kernels::quantize_row(TensorType::kQ4_0, f.data(), q.data() + r * row, kIn);
    }
    EXPECT_TRUE(w.add_tensor(name, TensorType::kQ4_0, {kIn, kOut}, q.data(), q.size()).is_ok());
  }
  const std::string path = dir.file("m.gguf");
  EXPECT_TRUE(w.write(path).is_ok());
  return path;
}

std::vector<uint8_t> bytes_of(const engine::Weight& w) {
  const auto* p = static_cast<const uint8_t*>(w.data);
  return {p, p + w.n_bytes};
}

TEST(WeightLayout, MatrixIsReorderedOnceInTheCopyOnly) {
  if (!kernels::interleave_pays(TensorType::kQ4_0, kIn, kOut)) {
    GTEST_SKIP() << "the kernels take the row layout here (not the AVX-512 level)";
  }
  TempDir dir;
  const std::string path = write_file(dir);
  auto mapped = gguf::File::open(path);
  ASSERT_TRUE(mapped.is_ok());
  auto copied = gguf::File::open(path, Limits::defaults(), MappedFile::Backing::kHugePageCopy);
  ASSERT_TRUE(copied.is_ok());

  // A file map is never written: the row layout.
  engine::WeightLoader lm(*mapped);
  auto m = lm.matrix("b", {kIn, kOut});
  ASSERT_TRUE(m.is_ok());
  EXPECT_EQ(m->layout, kernels::WeightLayout::kRows);
  const auto rows = bytes_of(*m);

  engine::WeightLoader lc(*copied);
  auto b = lc.matrix("b", {kIn, kOut});
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(b->layout, kernels::WeightLayout::kInterleaved16);
  auto reordered = rows;
  kernels::interleave_rows(TensorType::kQ4_0, kIn, kOut, reordered.data());
  EXPECT_EQ(bytes_of(*b), reordered);
  // Asked for again: the same layout, not reordered twice.
  auto again = lc.matrix("b", {kIn, kOut});
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->layout, kernels::WeightLayout::kInterleaved16);
  EXPECT_EQ(bytes_of(*again), reordered);
  // Its rows are gone: require() refuses it, naming it.
  auto as_rows = lc.require("b", {kIn, kOut});
  ASSERT_FALSE(as_rows.is_ok());
  EXPECT_EQ(as_rows.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(as_rows.status().message().find("'b'"), std::string::npos);
  // A tensor already handed out by rows cannot become a matrix.
  auto a_rows = lc.require("a", {kIn, kOut});
  ASSERT_TRUE(a_rows.is_ok());
  const auto a_bytes = bytes_of(*a_rows);
  auto a = lc.matrix("a", {kIn, kOut});
  ASSERT_FALSE(a.is_ok());
  EXPECT_EQ(a.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(bytes_of(*a_rows), a_bytes);  // unchanged
  // Shape errors as require()'s.
  auto bad = lc.matrix("a", {kIn, kOut * 2});
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  auto missing = lc.matrix("c", {kIn, kOut});
  EXPECT_EQ(missing.status().code(), ErrorCode::kInvalidArgument);
  auto absent = lc.optional_matrix("c", {kIn, kOut});
  ASSERT_TRUE(absent.is_ok());
  EXPECT_FALSE(*absent);
}

// A 3-D tensor of experts with long rows (130 Q4_0 blocks: stored slice by slice in panels of
// groups, counted from a matrix's first row) is rewritten one expert's matrix at a time, so that
// matmul over one expert's slice (its n_out rows) gives the row layout's results.
TEST(WeightLayout, ExpertsAreReorderedOneMatrixAtATime) {
  constexpr int64_t kLongIn = 32 * 130, kRowsPerExpert = 48, kExperts = 3;
  if (!kernels::interleave_pays(TensorType::kQ4_0, kLongIn, kRowsPerExpert)) {
    GTEST_SKIP() << "the kernels take the row layout here (not the AVX-512 level)";
  }
  TempDir dir;
  const size_t row = tensor_row_size(TensorType::kQ4_0, kLongIn);
  const size_t expert = row * kRowsPerExpert;
  std::vector<uint8_t> q(expert * kExperts);
  std::vector<float> f(static_cast<size_t>(kLongIn));
  for (int64_t r = 0; r < kRowsPerExpert * kExperts; ++r) {
    for (int64_t i = 0; i < kLongIn; ++i) f[i] = static_cast<float>((r * 5 + i * 11) % 19) - 9;
    kernels::quantize_row(TensorType::kQ4_0, f.data(), q.data() + r * row, kLongIn);
  }
  gguf::Writer w;
  ASSERT_TRUE(
      w.add_tensor("e", TensorType::kQ4_0, {kLongIn, kRowsPerExpert, kExperts}, q.data(), q.size())
          .is_ok());
  const std::string path = dir.file("e.gguf");
  ASSERT_TRUE(w.write(path).is_ok());
  auto copied = gguf::File::open(path, Limits::defaults(), MappedFile::Backing::kHugePageCopy);
  ASSERT_TRUE(copied.is_ok());
  engine::WeightLoader lc(*copied);
  auto e = lc.matrix("e", {kLongIn, kRowsPerExpert, kExperts});
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  ASSERT_EQ(e->layout, kernels::WeightLayout::kInterleaved16);
  auto per_expert = q, whole = q;
  for (int64_t x = 0; x < kExperts; ++x) {
    kernels::interleave_rows(TensorType::kQ4_0, kLongIn, kRowsPerExpert,
                             per_expert.data() + x * expert);
  }
  kernels::interleave_rows(TensorType::kQ4_0, kLongIn, kRowsPerExpert * kExperts, whole.data());
  EXPECT_EQ(bytes_of(*e), per_expert);
  EXPECT_NE(per_expert, whole);  // (the panels differ: the test would notice the whole tensor)

  ThreadPool pool(2);
  kernels::MatmulScratch scratch;
  std::vector<float> x(static_cast<size_t>(kLongIn));
  for (int64_t i = 0; i < kLongIn; ++i) x[i] = static_cast<float>(i % 7) - 3.5f;
  const auto* data = static_cast<const uint8_t*>(e->data);
  for (int64_t k = 0; k < kExperts; ++k) {
    std::vector<float> ref(kRowsPerExpert), y(kRowsPerExpert);
    kernels::matmul(pool, scratch, TensorType::kQ4_0, q.data() + k * expert, kLongIn,
                    kRowsPerExpert, x.data(), 1, ref.data());
    kernels::matmul(pool, scratch, TensorType::kQ4_0, data + k * expert, kLongIn, kRowsPerExpert,
                    x.data(), 1, y.data(), e->layout);
    EXPECT_EQ(y, ref) << "expert " << k;
  }
}

}  // namespace
}  // namespace dkb
