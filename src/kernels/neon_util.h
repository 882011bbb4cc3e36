// Small NEON helpers shared by the *_neon.cpp and *_dotprod.cpp translation units (aarch64).
// Everything has internal linkage, so each unit gets its own copy built with its own flags (see
// kernels_internal.h); the guard keeps the header out of other architectures' builds.
#pragma once

#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "neon_util.h is for *_neon.cpp / *_dotprod.cpp files on aarch64 only"
#endif

#include <arm_neon.h>

#include <cstdint>

namespace dkb::kernels::detail {
namespace {

// IEEE half -> float with the hardware conversion (exact, like fp16_to_fp32).
inline float h2f(uint16_t h) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

// acc + the products a[i] * b[i] of 16 signed bytes, summed into the 4 int32 lanes. Only the
// sum of the lanes is specified: sdot (dotprod) and the widening multiplies (plain NEON) group
// the products differently, but the total is the same exact integer.
inline int32x4_t dot_s8(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
  return vdotq_s32(acc, a, b);
#else
  // |a[i] * b[i]| <= 128 * 128 fits int16; pairs are added into int32 lanes.
  acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(a), vget_low_s8(b)));
  return vpadalq_s16(acc, vmull_high_s8(a, b));
#endif
}

// Exact sum of the 32 products a[i] * b[i] of two 32-byte signed vectors (lo, hi halves).
inline int32_t dot_s8x32(int8x16_t a0, int8x16_t a1, int8x16_t b0, int8x16_t b1) {
  return vaddvq_s32(dot_s8(dot_s8(vdupq_n_s32(0), a0, b0), a1, b1));
}

// Exact sum of the 16 products a[i] * b[i].
inline int32_t dot_s8x16(int8x16_t a, int8x16_t b) {
  return vaddvq_s32(dot_s8(vdupq_n_s32(0), a, b));
}

inline int8x16_t as_s8(uint8x16_t v) {
  return vreinterpretq_s8_u8(v);
}

// Byte i = 0xFF when bit i of the bytes p[0], p[1] (little-endian, bits 0..15) is set, else 0.
inline uint8x16_t bits_to_bytes16(const uint8_t* p) {
  static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t src = vcombine_u8(vdup_n_u8(p[0]), vdup_n_u8(p[1]));
  return vtstq_u8(src, vld1q_u8(kBit));
}

// sum_j mins[j] * (bsums[2j] + bsums[2j+1]) for the 8 sub-blocks of 32 (exact).
inline int32_t mins_dot_bsums(const uint8_t* mins, const int16_t* bsums) {
  const int16x8_t pairs = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
  const int16x8_t m = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mins)));
  const int32x4_t p = vmull_s16(vget_low_s16(m), vget_low_s16(pairs));
  return vaddvq_s32(vmlal_high_s16(p, m, pairs));
}

}  // namespace
}  // namespace dkb::kernels::detail
