// Dot products against dequantize-then-multiply references, SIMD against scalar, and
// quantize -> dequantize round-trip error bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

namespace dkb::kernels {
namespace {

using test::dequantized;
using test::kWeightTypes;
using test::quantized;
using test::random_floats;
using test::random_row;

int64_t block_of(TensorType t) {
  return tensor_type_traits(t)->block_size;
}

// Sizes with an odd number of blocks (and of 32-wide groups for float types).
std::vector<int64_t> sizes_for(TensorType t) {
  const int64_t b = std::max<int64_t>(block_of(t), 32);
  std::vector<int64_t> s = {b, 3 * b, 5 * b};
  if (block_of(t) == 1) s.insert(s.end(), {1, 7, 33, 95});
  return s;
}

TEST(VecDot, MatchesDequantizedReference) {
  uint32_t seed = 1;
  for (TensorType t : kWeightTypes) {
    const TensorType vt = vec_dot_type(t);
    for (int64_t n : sizes_for(t)) {
      const auto w = random_row(t, n, seed++);
      const auto xf = random_floats(static_cast<size_t>(n), seed++);
      const auto xq = quantized(vt, xf.data(), n);
      const auto wd = dequantized(t, w.data(), n);
      const auto xd = dequantized(vt, xq.data(), n);
      double ref = 0.0, mag = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        ref += static_cast<double>(wd[i]) * xd[i];
        mag += std::fabs(static_cast<double>(wd[i]) * xd[i]);
      }
      // Q4_1/Q5_1 use the half-precision sum field s of Q8_1 for the min term.
      const bool uses_s = t == TensorType::kQ4_1 || t == TensorType::kQ5_1;
      const double tol = (uses_s ? 2e-3 : 2e-5) * mag + 1e-6;
      for (Isa isa : test::kAllIsas) {
        if (!isa_available(isa)) continue;
        const float got = vec_dot_with(isa, t, n, w.data(), xq.data());
        EXPECT_NEAR(got, ref, tol)
            << tensor_type_name(t) << " n=" << n << " isa=" << static_cast<int>(isa);
      }
    }
  }
}

// Every SIMD level against the scalar oracle (AVX2 and AVX-512 on x86-64, NEON and NEON+dotprod
// on aarch64).
TEST(VecDot, SimdMatchesScalar) {
  if (test::simd_isas().empty()) GTEST_SKIP() << "CPU has no SIMD level";
  for (Isa isa : test::simd_isas()) {
    uint32_t seed = 100;
    for (TensorType t : kWeightTypes) {
      const TensorType vt = vec_dot_type(t);
      for (int64_t n : sizes_for(t)) {
        for (int rep = 0; rep < 3; ++rep) {
          const auto w = random_row(t, n, seed++);
          const auto xf = random_floats(static_cast<size_t>(n), seed++, -3.0f, 3.0f);
          const auto xq = quantized(vt, xf.data(), n);
          const float s = vec_dot_with(Isa::kScalar, t, n, w.data(), xq.data());
          const float v = vec_dot_with(isa, t, n, w.data(), xq.data());
          EXPECT_NEAR(v, s, 1e-5 * (std::fabs(s) + 1.0) + 1e-6 * std::sqrt(static_cast<double>(n)))
              << tensor_type_name(t) << " n=" << n << " isa=" << static_cast<int>(isa);
        }
      }
    }
  }
}

TEST(VecDot, ExtremeQuantsStayExact) {
  // Saturation check for the byte-multiply SIMD paths: all-max weights and activations.
  if (test::simd_isas().empty()) GTEST_SKIP() << "CPU has no SIMD level";
  for (Isa isa : test::simd_isas()) {
    for (TensorType t : kWeightTypes) {
      if (block_of(t) == 1) continue;
      const int64_t n = 3 * block_of(t);
      for (uint8_t fill : {uint8_t{0xFF}, uint8_t{0x00}, uint8_t{0x80}, uint8_t{0x7F}}) {
        auto w = random_row(t, n, 5);
        std::vector<uint8_t> raw = w;
        for (auto& b : raw) b = fill;
        // Keep the scale fields of the random row, overwrite the quants.
        const auto traits = *tensor_type_traits(t);
        for (int64_t i = 0; i < n / traits.block_size; ++i) {
          uint8_t* dst = raw.data() + i * traits.type_size;
          const uint8_t* src = w.data() + i * traits.type_size;
          switch (t) {
            case TensorType::kQ2_K:
              std::memcpy(dst + 80, src + 80, 4);
              break;
            case TensorType::kQ3_K:
              std::memcpy(dst + 108, src + 108, 2);
              break;
            case TensorType::kQ6_K:
              std::memcpy(dst + 208, src + 208, 2);
              break;
            case TensorType::kQ4_1:
            case TensorType::kQ5_1:
            case TensorType::kQ4_K:
            case TensorType::kQ5_K:
              std::memcpy(dst, src, 4);
              break;
            default:
              std::memcpy(dst, src, 2);
              break;
          }
        }
        std::vector<float> xf(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) xf[i] = (i % 3 == 0) ? -1.0f : 1.0f;
        const auto xq = quantized(vec_dot_type(t), xf.data(), n);
        const float s = vec_dot_with(Isa::kScalar, t, n, raw.data(), xq.data());
        const float v = vec_dot_with(isa, t, n, raw.data(), xq.data());
        EXPECT_NEAR(v, s, 1e-5 * (std::fabs(s) + 1.0))
            << tensor_type_name(t) << " fill=" << int(fill) << " isa=" << static_cast<int>(isa);
      }
    }
  }
}

TEST(VecDot, DispatchHonoursActiveIsa) {
  test::IsaGuard guard;
  set_active_isa(Isa::kScalar);
  EXPECT_EQ(active_isa(), Isa::kScalar);
  const auto w = random_row(TensorType::kQ4_0, 64, 3);
  const auto xf = random_floats(64, 4);
  const auto xq = quantized(TensorType::kQ8_0, xf.data(), 64);
  EXPECT_EQ(vec_dot(TensorType::kQ4_0, 64, w.data(), xq.data()),
            vec_dot_with(Isa::kScalar, TensorType::kQ4_0, 64, w.data(), xq.data()));
}

TEST(VecDot, TypeTable) {
  EXPECT_EQ(vec_dot_type(TensorType::kQ4_0), TensorType::kQ8_0);
  EXPECT_EQ(vec_dot_type(TensorType::kQ5_0), TensorType::kQ8_0);
  EXPECT_EQ(vec_dot_type(TensorType::kQ8_0), TensorType::kQ8_0);
  EXPECT_EQ(vec_dot_type(TensorType::kQ4_1), TensorType::kQ8_1);
  EXPECT_EQ(vec_dot_type(TensorType::kQ5_1), TensorType::kQ8_1);
  EXPECT_EQ(vec_dot_type(TensorType::kQ6_K), TensorType::kQ8_K);
  EXPECT_EQ(vec_dot_type(TensorType::kQ2_K), TensorType::kQ8_K);
  EXPECT_EQ(vec_dot_type(TensorType::kF16), TensorType::kF16);
  EXPECT_EQ(vec_dot_type(TensorType::kBF16), TensorType::kBF16);
  EXPECT_EQ(vec_dot_type(TensorType::kF32), TensorType::kF32);
  EXPECT_FALSE(is_supported_weight_type(TensorType::kQ8_K));
  EXPECT_FALSE(is_supported_weight_type(TensorType::kI32));
  for (TensorType t : kWeightTypes) EXPECT_TRUE(is_supported_weight_type(t));
}

struct RoundTrip {
  TensorType type;
  double max_err_rel_to_amax;  // per-block max |x - deq| / block max |x|
};

TEST(QuantizeRoundTrip, ErrorBounds) {
  const RoundTrip cases[] = {
      {TensorType::kQ4_0, 1.0 / 16 + 1e-3},  {TensorType::kQ4_1, 1.0 / 15 + 1e-3},
      {TensorType::kQ5_0, 1.0 / 32 + 1e-3},  {TensorType::kQ5_1, 1.0 / 31 + 1e-3},
      {TensorType::kQ8_0, 1.0 / 254 + 1e-3}, {TensorType::kQ8_1, 1.0 / 254 + 1e-3},
      {TensorType::kQ8_K, 1.0 / 254 + 1e-5}, {TensorType::kF16, 1e-3},
      {TensorType::kBF16, 1.0 / 128},
  };
  for (const auto& c : cases) {
    const int64_t bs = std::max<int64_t>(block_of(c.type), 32);
    const int64_t n = 7 * bs;
    const auto x = random_floats(static_cast<size_t>(n), 42, -2.0f, 3.0f);
    const auto y = dequantized(c.type, quantized(c.type, x.data(), n).data(), n);
    for (int64_t b = 0; b < n / bs; ++b) {
      double amax = 0, range_lo = 1e30, range_hi = -1e30, err = 0;
      for (int64_t i = b * bs; i < (b + 1) * bs; ++i) {
        amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
        range_lo = std::min<double>(range_lo, x[i]);
        range_hi = std::max<double>(range_hi, x[i]);
        err = std::max(err, std::fabs(static_cast<double>(x[i]) - y[i]));
      }
      const bool asym = c.type == TensorType::kQ4_1 || c.type == TensorType::kQ5_1;
      const double scale = asym ? (range_hi - range_lo) : amax;
      EXPECT_LE(err, c.max_err_rel_to_amax * scale) << tensor_type_name(c.type) << " block " << b;
    }
  }
}

TEST(QuantizeRoundTrip, Q8SideFieldsAreConsistent) {
  const int64_t n = 3 * 256;
  const auto x = random_floats(static_cast<size_t>(n), 9, -4.0f, 2.0f);
  std::vector<BlockQ8_K> k(3);
  quantize_row(TensorType::kQ8_K, x.data(), k.data(), n);
  for (const auto& b : k) {
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
      EXPECT_EQ(b.bsums[j], sum);
    }
  }
  std::vector<BlockQ8_1> q(static_cast<size_t>(n / 32));
  quantize_row(TensorType::kQ8_1, x.data(), q.data(), n);
  for (size_t i = 0; i < q.size(); ++i) {
    float amax = 0.0f;
    for (int l = 0; l < 32; ++l) amax = std::max(amax, std::fabs(x[i * 32 + l]));
    const float d = amax / 127;  // s uses the unrounded scale, like ggml
    int sum = 0;
    for (int l = 0; l < 32; ++l) sum += q[i].qs[l];
    EXPECT_EQ(q[i].s, fp32_to_fp16(static_cast<float>(sum) * d));
    EXPECT_EQ(q[i].d, fp32_to_fp16(d));
  }
}

TEST(QuantizeRoundTrip, ZeroBlocks) {
  for (TensorType t : {TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1,
                       TensorType::kQ8_0, TensorType::kQ8_1, TensorType::kQ8_K}) {
    const int64_t n = block_of(t);
    std::vector<float> x(static_cast<size_t>(n), 0.0f);
    const auto y = dequantized(t, quantized(t, x.data(), n).data(), n);
    for (float v : y) EXPECT_EQ(v, 0.0f) << tensor_type_name(t);
  }
}

}  // namespace
}  // namespace dkb::kernels

namespace dkb::kernels {
namespace {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string(v) != "" && std::string(v) != "0";
}

TEST(Dispatch, InitialIsaFollowsCpuAndEnvironment) {
#if defined(__x86_64__)
  if (env_flag("DKB_FORCE_SCALAR") || !isa_available(Isa::kAvx2)) {
    EXPECT_EQ(active_isa(), Isa::kScalar);
  } else if (env_flag("DKB_FORCE_AVX2") || !isa_available(Isa::kAvx512)) {
    EXPECT_EQ(active_isa(), Isa::kAvx2);
  } else {
    EXPECT_EQ(active_isa(), Isa::kAvx512);
  }
#elif defined(__aarch64__)
  EXPECT_TRUE(isa_available(Isa::kNeon));  // part of ARMv8-A
  if (env_flag("DKB_FORCE_SCALAR")) {
    EXPECT_EQ(active_isa(), Isa::kScalar);
  } else if (env_flag("DKB_FORCE_NEON") || !isa_available(Isa::kNeonDot)) {
    EXPECT_EQ(active_isa(), Isa::kNeon);
  } else {
    EXPECT_EQ(active_isa(), Isa::kNeonDot);
  }
#else
  EXPECT_EQ(active_isa(), Isa::kScalar);
#endif
  // Each level includes the one before; no CPU has both architectures' levels.
  if (isa_available(Isa::kAvx512)) {
    EXPECT_TRUE(isa_available(Isa::kAvx2));
  }
  if (isa_available(Isa::kNeonDot)) {
    EXPECT_TRUE(isa_available(Isa::kNeon));
  }
  EXPECT_FALSE(isa_available(Isa::kAvx2) && isa_available(Isa::kNeon));
  // The level a CTest run expects where the CPU is known (DKB_EXPECT_ISA: scalar, avx2, avx512,
  // neon or neon_dot): the forced levels, and the emulated CPUs of scripts/test_arm64.sh.
  if (const char* expect = std::getenv("DKB_EXPECT_ISA")) {
    const char* names[] = {"scalar", "avx2", "avx512", "neon", "neon_dot"};
    EXPECT_STREQ(names[static_cast<int>(active_isa())], expect);
  }
}

}  // namespace
}  // namespace dkb::kernels
