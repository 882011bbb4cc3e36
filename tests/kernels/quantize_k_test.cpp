// Weight quantizers (quantize_row for Q4_0 … Q6_K): round-trip error bounds on ggml's
// test-quantize-fns data, and exact bytes of blocks whose quantization can be worked out by hand.
// (Byte equality with llama.cpp-written files is tested in tests/quant.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "test_util.h"

namespace dkb::kernels {
namespace {

// ggml's test-quantize-fns: 0.1 + 2*cos(i + offset), and its "rmse" sqrt(sum d^2) / n.
std::vector<float> cos_data(int64_t n, float offset) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = 0.1f + 2.0f * std::cos(static_cast<float>(i) + offset);
  return v;
}

double ggml_rmse(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += double(a[i] - b[i]) * double(a[i] - b[i]);
  return std::sqrt(sum) / static_cast<double>(a.size());
}

std::vector<float> round_trip(TensorType t, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(tensor_row_size(t, n));
  quantize_row(t, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

struct Bound {
  TensorType type;
  double max_total_error;  // ggml's MAX_QUANTIZATION_TOTAL_ERROR* for the type
  double max_abs_rel;      // per-element |err| / max|x| of its block, a looser sanity bound
};

class WeightQuantError : public ::testing::TestWithParam<Bound> {};

TEST_P(WeightQuantError, ErrorWithinGgmlThresholds) {
  const Bound b = GetParam();
  ASSERT_TRUE(can_quantize(b.type));
  const int64_t n = 32 * 128;  // ggml's test size
  const auto x = cos_data(n, 0.0f);
  const auto y = round_trip(b.type, x);
  EXPECT_LT(ggml_rmse(x, y), b.max_total_error) << tensor_type_name(b.type);
  // Per element: values span [-1.9, 2.1]; a b-bit quantizer's worst error is about half a
  // step of (range / 2^b) plus scale rounding.
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_LE(std::fabs(x[i] - y[i]), b.max_abs_rel * 2.1) << tensor_type_name(b.type) << " @" << i;
  }
  // Random data too (uniform [-1, 1]).
  const auto r = test::random_floats(static_cast<size_t>(n), 7);
  const auto ry = round_trip(b.type, r);
  EXPECT_LT(ggml_rmse(r, ry), b.max_total_error) << tensor_type_name(b.type) << " (random)";
}

INSTANTIATE_TEST_SUITE_P(
    AllWeightTypes, WeightQuantError,
    ::testing::Values(Bound{TensorType::kQ8_0, 0.002, 0.01}, Bound{TensorType::kQ4_0, 0.002, 0.10},
                      Bound{TensorType::kQ4_1, 0.002, 0.10}, Bound{TensorType::kQ5_0, 0.002, 0.05},
                      Bound{TensorType::kQ5_1, 0.002, 0.05}, Bound{TensorType::kQ2_K, 0.0075, 0.45},
                      Bound{TensorType::kQ3_K, 0.0040, 0.25}, Bound{TensorType::kQ4_K, 0.002, 0.12},
                      Bound{TensorType::kQ5_K, 0.002, 0.06}, Bound{TensorType::kQ6_K, 0.002, 0.03}),
    [](const ::testing::TestParamInfo<Bound>& p) {
      return std::string(tensor_type_name(p.param.type));
    });

TEST(QuantizeK, MoreBitsMeanLessError) {
  const auto x = cos_data(4096, 1.0f);
  const double e2 = ggml_rmse(x, round_trip(TensorType::kQ2_K, x));
  const double e3 = ggml_rmse(x, round_trip(TensorType::kQ3_K, x));
  const double e4 = ggml_rmse(x, round_trip(TensorType::kQ4_K, x));
  const double e5 = ggml_rmse(x, round_trip(TensorType::kQ5_K, x));
  const double e6 = ggml_rmse(x, round_trip(TensorType::kQ6_K, x));
  EXPECT_GT(e2, e3);
  EXPECT_GT(e3, e4);
  EXPECT_GT(e4, e5);
  EXPECT_GT(e5, e6);
}

TEST(QuantizeK, ZeroBlocksAreAllZeroBytes) {
  const std::vector<float> zeros(kQK_K, 0.0f);
  for (TensorType t : {TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                       TensorType::kQ6_K}) {
    std::vector<uint8_t> q(tensor_row_size(t, kQK_K), 0xAB);
    quantize_row(t, zeros.data(), q.data(), kQK_K);
    for (size_t i = 0; i < q.size(); ++i) {
      ASSERT_EQ(q[i], 0) << tensor_type_name(t) << " byte " << i;
    }
  }
}

// x = l for l = i % 16 in every 32-element sub-block: the levels fit exactly with scale 1 and
// min 0, so every scale is 63 (6-bit max), d = fp16(1/63), dmin = 0, and the quants are x.
TEST(QuantizeK, Q4KExactLevels) {
  std::vector<float> x(kQK_K);
  for (int i = 0; i < kQK_K; ++i) x[i] = static_cast<float>(i % 16);
  BlockQ4_K b;
  quantize_row(TensorType::kQ4_K, x.data(), &b, kQK_K);
  EXPECT_EQ(b.d, fp32_to_fp16(1.0f / 63.0f));
  EXPECT_EQ(b.dmin, 0);
  // Scales 0..3 hold 6 bits of scale 0..3 plus the top 2 bits of scale 4..7 (63 >> 4 = 3):
  // 0x3F | 0xC0. Bytes 4..7: mins 0..3 (0) plus top bits of mins 4..7 (0). Bytes 8..11: low
  // nibbles of scale 4..7 (0xF) and min 4..7 (0).
  const uint8_t want_scales[12] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F};
  EXPECT_EQ(std::memcmp(b.scales, want_scales, 12), 0);
  // qs[32*c + l] = L[64c + l] | L[64c + 32 + l] << 4, both equal to l % 16.
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      ASSERT_EQ(b.qs[32 * c + l], 0x11 * (l % 16)) << c << "," << l;
    }
  }
  std::vector<float> y(kQK_K);
  dequantize_row(TensorType::kQ4_K, &b, y.data(), kQK_K);
  for (int i = 0; i < kQK_K; ++i) EXPECT_NEAR(y[i], x[i], 0.01f);
}

// Q5_K with x = i % 32: exact levels 0..31 with scale 1, min 0 (same scale bytes as Q4_K
// above); low nibbles in qs, and the fifth bit, set for levels 16..31, in qh (bit 2c for the
// first 32 of chunk c, bit 2c+1 for the second).
TEST(QuantizeK, Q5KExactLevels) {
  std::vector<float> x(kQK_K);
  for (int i = 0; i < kQK_K; ++i) x[i] = static_cast<float>(i % 32);
  BlockQ5_K b;
  quantize_row(TensorType::kQ5_K, x.data(), &b, kQK_K);
  EXPECT_EQ(b.d, fp32_to_fp16(1.0f / 63.0f));
  EXPECT_EQ(b.dmin, 0);
  const uint8_t want_scales[12] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F};
  EXPECT_EQ(std::memcmp(b.scales, want_scales, 12), 0);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) ASSERT_EQ(b.qs[32 * c + l], 0x11 * (l & 15)) << c << "," << l;
  }
  for (int l = 0; l < 32; ++l) ASSERT_EQ(b.qh[l], l > 15 ? 0xFF : 0x00) << l;
}

// Q2_K with x = i % 4: every 16-group fits levels 0..3 exactly with scale 1 and min 0, so the
// 4-bit sub-block scales are all 15 with d = fp16(1/15), no mins (dmin 0), and each qs byte
// packs four equal levels: (l % 4) * 0b01010101.
TEST(QuantizeK, Q2KExactLevels) {
  std::vector<float> x(kQK_K);
  for (int i = 0; i < kQK_K; ++i) x[i] = static_cast<float>(i % 4);
  BlockQ2_K b;
  quantize_row(TensorType::kQ2_K, x.data(), &b, kQK_K);
  EXPECT_EQ(b.d, fp32_to_fp16(1.0f / 15.0f));
  EXPECT_EQ(b.dmin, 0);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.scales[j], 0x0F) << j;
  for (int i = 0; i < 64; ++i) ASSERT_EQ(b.qs[i], 0x55 * (i % 4)) << i;
  std::vector<float> y(kQK_K);
  dequantize_row(TensorType::kQ2_K, &b, y.data(), kQK_K);
  for (int i = 0; i < kQK_K; ++i) EXPECT_NEAR(y[i], x[i], 1e-3f);
}

// x = (i % 16 - 8) / 4: the first element of each 16-group has the largest magnitude (-2), so
// the group scale is -2 / -32 = 1/16 and the levels l = 16x = 4(i % 16 - 8) fit exactly (no
// other candidate scale beats an exact fit). The super-block scale is then -128 with
// d = -1/2048 (exact in fp16), so stored levels are l + 32 = 4 * (i % 16): low nibble in ql,
// high 2 bits in qh.
TEST(QuantizeK, Q6KExactLevels) {
  std::vector<float> x(kQK_K);
  for (int i = 0; i < kQK_K; ++i) x[i] = static_cast<float>(i % 16 - 8) / 4.0f;
  BlockQ6_K b;
  quantize_row(TensorType::kQ6_K, x.data(), &b, kQK_K);
  EXPECT_EQ(b.d, fp32_to_fp16(-1.0f / 2048.0f));
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.scales[j], -128) << j;
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int L = 4 * (l % 16);  // same for the 4 elements l, l+32, l+64, l+96 of the half
      ASSERT_EQ(b.ql[64 * half + l], (L & 0xF) | ((L & 0xF) << 4));
      ASSERT_EQ(b.ql[64 * half + 32 + l], (L & 0xF) | ((L & 0xF) << 4));
      const int h = L >> 4;
      ASSERT_EQ(b.qh[32 * half + l], h | (h << 2) | (h << 4) | (h << 6));
    }
  }
  std::vector<float> y(kQK_K);
  dequantize_row(TensorType::kQ6_K, &b, y.data(), kQK_K);
  for (int i = 0; i < kQK_K; ++i) EXPECT_EQ(y[i], x[i]) << i;
}

// Quantizing a row equals quantizing its blocks one at a time (rows split over threads rely
// on this), and is deterministic.
TEST(QuantizeK, BlockwiseAndDeterministic) {
  const auto x = test::random_floats(4 * kQK_K, 11, -3.0f, 2.0f);
  for (TensorType t : {TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                       TensorType::kQ6_K}) {
    const size_t bs = tensor_row_size(t, kQK_K);
    std::vector<uint8_t> whole(4 * bs), parts(4 * bs);
    quantize_row(t, x.data(), whole.data(), 4 * kQK_K);
    for (int i = 0; i < 4; ++i) quantize_row(t, x.data() + i * kQK_K, parts.data() + i * bs, kQK_K);
    EXPECT_EQ(whole, parts) << tensor_type_name(t);
  }
}

}  // namespace
}  // namespace dkb::kernels
