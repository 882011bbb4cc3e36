#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/kernels.h"
#include "test_util.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace dkb::kernels {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Independent decoding of IEEE half.
double half_value(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  if (e == 0) return sign * std::ldexp(m, -24);
  if (e == 31)
    return m ? std::numeric_limits<double>::quiet_NaN()
             : sign * std::numeric_limits<double>::infinity();
  return sign * std::ldexp(1024 + m, e - 25);
}

// Independent round-to-nearest-even float -> half by search over the ordered half values.
uint16_t reference_fp16(float f) {
  if (std::isnan(f)) return 0x7E00;
  const uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(f));
  if (a >= 65520.0) return sign | 0x7C00;
  uint16_t lo = 0, hi = 0x7BFF;  // largest h with value <= a
  while (lo < hi) {
    const uint16_t mid = static_cast<uint16_t>((lo + hi + 1) / 2);
    if (half_value(mid) <= a)
      lo = mid;
    else
      hi = static_cast<uint16_t>(mid - 1);
  }
  uint16_t h = lo;
  if (h < 0x7BFF || half_value(h) < a) {
    const double d_lo = a - half_value(h);
    const double d_hi = (h == 0x7BFF ? 65536.0 : half_value(static_cast<uint16_t>(h + 1))) - a;
    if (d_hi < d_lo || (d_hi == d_lo && (h & 1))) h = static_cast<uint16_t>(h + 1);
  }
  return sign | h;
}

TEST(Fp16, DecodesEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    const double want = half_value(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(f)) << h;
    } else {
      EXPECT_EQ(static_cast<double>(f), want) << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    }
  }
}

TEST(Fp16, RoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    if (((h >> 10) & 0x1F) == 31 && (h & 0x3FF)) continue;  // NaN
    EXPECT_EQ(fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h))), h) << h;
  }
}

TEST(Fp16, EdgeValues) {
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);  // tie to even overflows
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(NAN), 0x7E00);
  EXPECT_EQ(fp32_to_fp16(-NAN), 0xFE00);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 ulp tie -> 2
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties to even (1.0).
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(fp32_to_fp16(from_bits(bits(1.0f + std::ldexp(1.0f, -11)) + 1)), 0x3C01);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -40)), 0x0000);  // float subnormal-ish range
  EXPECT_EQ(fp32_to_fp16(from_bits(1)), 0x0000);           // float subnormal
}

TEST(Fp16, MatchesIndependentRoundingOnRandomFloats) {
  std::mt19937 rng(7);
  for (int i = 0; i < 200000; ++i) {
    // Exponents spanning half's range and beyond.
    const uint32_t e = 100 + rng() % 60;
    const uint32_t u = (rng() & 0x80000000u) | (e << 23) | (rng() & 0x7FFFFFu);
    const float f = from_bits(u);
    ASSERT_EQ(fp32_to_fp16(f), reference_fp16(f)) << f;
  }
}

// quantize_row(kF16) (the f16 KV cache's writes) at every level: the scalar fp32_to_fp16's bits
// for the edge values (ties, subnormals, overflow, infinities, NaN amid finite values) and
// random floats over half's range, odd lengths included; also with the compute threads' FTZ|DAZ
// set (a float subnormal becomes +-0 either way, as half has no such values).
TEST(Fp16, RowQuantizerEqualsScalarAtEveryLevel) {
  test::IsaGuard guard;
  std::vector<float> x = {0.0f,
                          -0.0f,
                          1.0f,
                          65504.0f,
                          65519.0f,
                          65520.0f,
                          1e10f,
                          -INFINITY,
                          INFINITY,
                          NAN,
                          -NAN,
                          std::ldexp(1.0f, -24),
                          std::ldexp(1.0f, -25),
                          std::ldexp(3.0f, -25),
                          std::ldexp(1.0f, -14),
                          std::ldexp(1.0f, -40),
                          1.0f + std::ldexp(1.0f, -11),
                          1.0f + 3 * std::ldexp(1.0f, -11),
                          from_bits(1),
                          -from_bits(0x00400000u),
                          -3.14159f,
                          from_bits(0x7FFFFFFFu),
                          from_bits(0xFF800001u)};  // NaN payloads
  std::mt19937 rng(11);
  while (x.size() < 4099) {
    const uint32_t e = 100 + rng() % 60;
    x.push_back(from_bits((rng() & 0x80000000u) | (e << 23) | (rng() & 0x7FFFFFu)));
  }
  for (bool ftz : {false, true}) {
#if defined(__x86_64__)
    const unsigned saved = _mm_getcsr();
    if (ftz) _mm_setcsr(saved | 0x8040);
#else
    if (ftz) continue;
#endif
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kNeonDot}) {
      if (!isa_available(isa)) continue;
      set_active_isa(isa);
      for (size_t n : {x.size(), size_t{7}, size_t{8}, size_t{21}}) {
        std::vector<uint16_t> got(n, 0x1234);
        quantize_row(TensorType::kF16, x.data(), got.data(), static_cast<int64_t>(n));
        for (size_t i = 0; i < n; ++i) {
          const uint16_t want = fp32_to_fp16(x[i]);
          ASSERT_EQ(got[i], want) << "isa=" << static_cast<int>(isa) << " ftz=" << ftz << " i=" << i
                                  << " x=" << x[i];
        }
      }
    }
#if defined(__x86_64__)
    _mm_setcsr(saved);
#endif
  }
}

TEST(Bf16, Conversions) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_fp32(0x3F80), 1.0f);
  EXPECT_EQ(fp32_to_bf16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_bf16(INFINITY), 0x7F80);
  EXPECT_EQ(fp32_to_bf16(-INFINITY), 0xFF80);
  // Ties to even: 0x3F808000 is halfway between 0x3F80 and 0x3F81.
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3F808000u)), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3F818000u)), 0x3F82);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3F808001u)), 0x3F81);
  // Largest finite float rounds up to infinity.
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7F7FFFFFu)), 0x7F80);
  // Subnormals are rounded, not flushed.
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00018000u)), 0x0002);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x00010000u)), 0x0001);
  // NaN keeps sign and payload and becomes quiet.
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7F800001u)), 0x7FC0);
  EXPECT_EQ(fp32_to_bf16(from_bits(0xFFA00000u)), 0xFFE0);
  EXPECT_TRUE(std::isnan(bf16_to_fp32(0x7FC0)));
  for (uint32_t h = 0; h < 65536; ++h) {
    if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) continue;
    EXPECT_EQ(fp32_to_bf16(bf16_to_fp32(static_cast<uint16_t>(h))), h);
  }
}

}  // namespace
}  // namespace dkb::kernels
