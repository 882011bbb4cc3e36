// NEON dot products of the quantized weight types with their activation formats, shared by
// vec_dot_neon.cpp (plain NEON: widening multiplies) and vec_dot_dotprod.cpp (compiled with
// +dotprod: sdot); neon_util.h's dot_s8 is the only difference. Include only from those two
// files: everything here has internal linkage.
//
// Each block's (legacy types) or super-block's (K-quants) integer sums are formed exactly with
// vectors, then combined with the scales by the float operations of the scalar reference
// (vec_dot_scalar.cpp, vec_dot_k_scalar.cpp) in its order, so both variants give the same
// results, and (the kernels are compiled with -ffp-contract=off) bit for bit the scalar ones.
#pragma once

#include <arm_neon.h>

#include <cstdint>

#include "kernels/blocks.h"
#include "kernels_internal.h"
#include "neon_util.h"

namespace dkb::kernels::detail {
namespace {

// Low and high nibbles of 16 bytes (elements j and j + 16 of a legacy block).
inline void nibbles(const uint8_t* qs, uint8x16_t* lo, uint8x16_t* hi) {
  const uint8x16_t q = vld1q_u8(qs);
  *lo = vandq_u8(q, vdupq_n_u8(0x0F));
  *hi = vshrq_n_u8(q, 4);
}

float dot_q4_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  const int8x16_t eight = vdupq_n_s8(8);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint8x16_t lo, hi;
    nibbles(a[ib].qs, &lo, &hi);
    const int sumi = dot_s8x32(vsubq_s8(as_s8(lo), eight), vsubq_s8(as_s8(hi), eight),
                               vld1q_s8(b[ib].qs), vld1q_s8(b[ib].qs + 16));
    sumf += static_cast<float>(sumi) * h2f(a[ib].d) * h2f(b[ib].d);
  }
  return sumf;
}

float dot_q4_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK8_1;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint8x16_t lo, hi;
    nibbles(a[ib].qs, &lo, &hi);
    const int sumi = dot_s8x32(as_s8(lo), as_s8(hi), vld1q_s8(b[ib].qs), vld1q_s8(b[ib].qs + 16));
    sumf += (h2f(a[ib].d) * h2f(b[ib].d)) * static_cast<float>(sumi) + h2f(a[ib].m) * h2f(b[ib].s);
  }
  return sumf;
}

float dot_q5_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  const uint8x16_t f0 = vdupq_n_u8(0xF0);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint8x16_t lo, hi;
    nibbles(a[ib].qs, &lo, &hi);
    // q - 16 as a signed byte: nibble | 0xF0 when the fifth bit is clear, the nibble otherwise.
    lo = vorrq_u8(lo, vbicq_u8(f0, bits_to_bytes16(a[ib].qh)));
    hi = vorrq_u8(hi, vbicq_u8(f0, bits_to_bytes16(a[ib].qh + 2)));
    const int sumi = dot_s8x32(as_s8(lo), as_s8(hi), vld1q_s8(b[ib].qs), vld1q_s8(b[ib].qs + 16));
    sumf += (h2f(a[ib].d) * h2f(b[ib].d)) * static_cast<float>(sumi);
  }
  return sumf;
}

float dot_q5_1(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK8_1;
  const uint8x16_t b4 = vdupq_n_u8(0x10);
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    uint8x16_t lo, hi;
    nibbles(a[ib].qs, &lo, &hi);
    lo = vorrq_u8(lo, vandq_u8(b4, bits_to_bytes16(a[ib].qh)));
    hi = vorrq_u8(hi, vandq_u8(b4, bits_to_bytes16(a[ib].qh + 2)));
    const int sumi = dot_s8x32(as_s8(lo), as_s8(hi), vld1q_s8(b[ib].qs), vld1q_s8(b[ib].qs + 16));
    sumf += (h2f(a[ib].d) * h2f(b[ib].d)) * static_cast<float>(sumi) + h2f(a[ib].m) * h2f(b[ib].s);
  }
  return sumf;
}

float dot_q8_0(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    const int sumi = dot_s8x32(vld1q_s8(a[ib].qs), vld1q_s8(a[ib].qs + 16), vld1q_s8(b[ib].qs),
                               vld1q_s8(b[ib].qs + 16));
    sumf += static_cast<float>(sumi) * (h2f(a[ib].d) * h2f(b[ib].d));
  }
  return sumf;
}

float dot_q2_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const uint8x16_t m3 = vdupq_n_u8(3);
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* sc = a[i].scales;
    // Mins (high nibbles) times the 16 bsums.
    const uint8x16_t mins = vshrq_n_u8(vld1q_u8(sc), 4);
    const int16x8_t m_lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins)));
    const int16x8_t m_hi = vreinterpretq_s16_u16(vmovl_high_u8(mins));
    const int16x8_t bs_lo = vld1q_s16(b[i].bsums), bs_hi = vld1q_s16(b[i].bsums + 8);
    int32x4_t ms = vmull_s16(vget_low_s16(m_lo), vget_low_s16(bs_lo));
    ms = vmlal_high_s16(ms, m_lo, bs_lo);
    ms = vmlal_s16(ms, vget_low_s16(m_hi), vget_low_s16(bs_hi));
    ms = vmlal_high_s16(ms, m_hi, bs_hi);
    const int summs = vaddvq_s32(ms);
    const float dall = b[i].d * h2f(a[i].d);
    const float dmin = b[i].d * h2f(a[i].dmin);
    const uint8_t* q2 = a[i].qs;
    const int8_t* q8 = b[i].qs;
    int isum = 0;
    int is = 0;
    for (int k = 0; k < kQK_K / 128; ++k) {
      const uint8x16_t bits0 = vld1q_u8(q2), bits1 = vld1q_u8(q2 + 16);
      for (int shift = 0; shift < 8; shift += 2) {
        const int8x16_t s = vdupq_n_s8(static_cast<int8_t>(-shift));
        const uint8x16_t v0 = vandq_u8(vshlq_u8(bits0, s), m3);
        const uint8x16_t v1 = vandq_u8(vshlq_u8(bits1, s), m3);
        isum += (sc[is] & 0xF) * dot_s8x16(as_s8(v0), vld1q_s8(q8));
        isum += (sc[is + 1] & 0xF) * dot_s8x16(as_s8(v1), vld1q_s8(q8 + 16));
        is += 2;
        q8 += 32;
      }
      q2 += 32;
    }
    sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
  }
  return sumf;
}

float dot_q3_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const uint8x16_t m3 = vdupq_n_u8(3);
  const uint8x16_t four = vdupq_n_u8(4);
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int8_t scales[16];
    unpack_q3_k_scales(a[i].scales, scales);
    const uint8x16_t hm0 = vld1q_u8(a[i].hmask), hm1 = vld1q_u8(a[i].hmask + 16);
    const uint8_t* q3 = a[i].qs;
    const int8_t* q8 = b[i].qs;
    int isum = 0;
    int is = 0;
    int bit = 0;
    for (int half = 0; half < kQK_K; half += 128) {
      const uint8x16_t bits0 = vld1q_u8(q3), bits1 = vld1q_u8(q3 + 16);
      for (int shift = 0; shift < 8; shift += 2, ++bit) {
        const int8x16_t s = vdupq_n_s8(static_cast<int8_t>(-shift));
        const uint8x16_t m = vdupq_n_u8(static_cast<uint8_t>(1u << bit));
        // (q >> shift & 3) - 4 where the high bit is clear.
        const int8x16_t v0 = vsubq_s8(as_s8(vandq_u8(vshlq_u8(bits0, s), m3)),
                                      as_s8(vbicq_u8(four, vtstq_u8(hm0, m))));
        const int8x16_t v1 = vsubq_s8(as_s8(vandq_u8(vshlq_u8(bits1, s), m3)),
                                      as_s8(vbicq_u8(four, vtstq_u8(hm1, m))));
        isum += (scales[is] - 32) * dot_s8x16(v0, vld1q_s8(q8));
        isum += (scales[is + 1] - 32) * dot_s8x16(v1, vld1q_s8(q8 + 16));
        is += 2;
        q8 += 32;
      }
      q3 += 32;
    }
    sumf += h2f(a[i].d) * b[i].d * static_cast<float>(isum);
  }
  return sumf;
}

// The Q4_K / Q5_K dot product; kFive adds the fifth bits from qh (32 bytes, 2 bits per group).
template <bool kFive>
float dot_q45_k(const uint16_t* d, const uint16_t* dmin, const uint8_t* scales, const uint8_t* qh,
                const uint8_t* qs, const BlockQ8_K& b) {
  uint8_t sc[8], mins[8];
  for (int j = 0; j < 8; ++j) get_scale_min_k4(j, scales, &sc[j], &mins[j]);
  const int summs = mins_dot_bsums(mins, b.bsums);
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  const uint8x16_t b4 = vdupq_n_u8(0x10);
  const int8_t* q8 = b.qs;
  int isum = 0;
  for (int j = 0; j < kQK_K / 64; ++j) {
    const uint8x16_t q0 = vld1q_u8(qs), q1 = vld1q_u8(qs + 16);
    uint8x16_t l0 = vandq_u8(q0, m4), l1 = vandq_u8(q1, m4);
    uint8x16_t u0 = vshrq_n_u8(q0, 4), u1 = vshrq_n_u8(q1, 4);
    if constexpr (kFive) {
      const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
      const uint8x16_t bl = vdupq_n_u8(static_cast<uint8_t>(1u << (2 * j)));
      const uint8x16_t bu = vdupq_n_u8(static_cast<uint8_t>(2u << (2 * j)));
      l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(h0, bl), b4));
      l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(h1, bl), b4));
      u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(h0, bu), b4));
      u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(h1, bu), b4));
    }
    const int s0 = dot_s8x32(as_s8(l0), as_s8(l1), vld1q_s8(q8), vld1q_s8(q8 + 16));
    const int s1 = dot_s8x32(as_s8(u0), as_s8(u1), vld1q_s8(q8 + 32), vld1q_s8(q8 + 48));
    isum += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
    qs += 32;
    q8 += 64;
  }
  const float fd = h2f(*d) * b.d;
  const float fmin = h2f(*dmin) * b.d;
  return fd * static_cast<float>(isum) - fmin * static_cast<float>(summs);
}

float dot_q4_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    sumf += dot_q45_k<false>(&a[i].d, &a[i].dmin, a[i].scales, nullptr, a[i].qs, b[i]);
  }
  return sumf;
}

float dot_q5_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    sumf += dot_q45_k<true>(&a[i].d, &a[i].dmin, a[i].scales, a[i].qh, a[i].qs, b[i]);
  }
  return sumf;
}

float dot_q6_k(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  const uint8x16_t m3 = vdupq_n_u8(0x03);
  const int8x16_t m32 = vdupq_n_s8(32);
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* ql = a[i].ql;
    const uint8_t* qh = a[i].qh;
    const int8_t* sc = a[i].scales;
    const int8_t* q8 = b[i].qs;
    int isum = 0;
    for (int half = 0; half < kQK_K; half += 128) {
      const uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16);
      const uint8x16_t l2 = vld1q_u8(ql + 32), l3 = vld1q_u8(ql + 48);
      const uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
      // The 6-bit quants of the 8 sub-blocks of 16 (scale k, activations q8[16k..16k+15]):
      // low nibbles of ql[0..63], then high nibbles, each with the next 2 bits of qh[0..31].
      uint8x16_t q[8];
      q[0] = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(h0, m3), 4));
      q[1] = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(h1, m3), 4));
      q[2] = vorrq_u8(vandq_u8(l2, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h0, 2), m3), 4));
      q[3] = vorrq_u8(vandq_u8(l3, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h1, 2), m3), 4));
      q[4] = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h0, 4), m3), 4));
      q[5] = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(h1, 4), m3), 4));
      q[6] = vorrq_u8(vshrq_n_u8(l2, 4), vshlq_n_u8(vshrq_n_u8(h0, 6), 4));
      q[7] = vorrq_u8(vshrq_n_u8(l3, 4), vshlq_n_u8(vshrq_n_u8(h1, 6), 4));
      for (int k = 0; k < 8; ++k) {
        isum += sc[k] * dot_s8x16(vsubq_s8(as_s8(q[k]), m32), vld1q_s8(q8 + 16 * k));
      }
      ql += 64;
      qh += 32;
      sc += 8;
      q8 += 128;
    }
    sumf += h2f(a[i].d) * b[i].d * static_cast<float>(isum);
  }
  return sumf;
}

// The kernel of quantized weight type t, or null.
VecDotFn quantized_dot(TensorType t) {
  switch (t) {
    case TensorType::kQ4_0:
      return dot_q4_0;
    case TensorType::kQ4_1:
      return dot_q4_1;
    case TensorType::kQ5_0:
      return dot_q5_0;
    case TensorType::kQ5_1:
      return dot_q5_1;
    case TensorType::kQ8_0:
      return dot_q8_0;
    case TensorType::kQ2_K:
      return dot_q2_k;
    case TensorType::kQ3_K:
      return dot_q3_k;
    case TensorType::kQ4_K:
      return dot_q4_k;
    case TensorType::kQ5_K:
      return dot_q5_k;
    case TensorType::kQ6_K:
      return dot_q6_k;
    default:
      return nullptr;
  }
}

}  // namespace
}  // namespace dkb::kernels::detail
