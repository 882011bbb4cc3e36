// NEON dot products (aarch64 baseline, no dotprod): the float types here, the quantized types
// from vec_dot_neon_impl.h with widening multiplies; attention's axpy. Only reached through
// dispatch (dispatch_arm64.cpp). Same file rules as vec_dot_avx2.cpp (no std templates).
#include <arm_neon.h>

#include <cstdint>

#include "kernels/kernels.h"
#include "kernels_internal.h"
#include "neon_util.h"
#include "vec_dot_neon_impl.h"

namespace dkb::kernels::detail {
namespace {

float dot_f32(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    acc2 = vfmaq_f32(acc2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
    acc3 = vfmaq_f32(acc3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
  }
  for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// 8 halves -> two float vectors.
inline void load_f16x8(const uint16_t* p, float32x4_t* lo, float32x4_t* hi) {
  const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p));
  *lo = vcvt_f32_f16(vget_low_f16(h));
  *hi = vcvt_high_f32_f16(h);
}

// 8 bfloat16 -> two float vectors (the bits shifted into the high half).
inline void load_bf16x8(const uint16_t* p, float32x4_t* lo, float32x4_t* hi) {
  const uint16x8_t v = vld1q_u16(p);
  *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v), 16));
  *hi = vreinterpretq_f32_u32(vshll_high_n_u16(v, 16));
}

template <bool kBf16>
float dot_16bit(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  const auto load = kBf16 ? load_bf16x8 : load_f16x8;
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    float32x4_t a0, a1, b0, b1;
    load(a + i, &a0, &a1);
    load(b + i, &b0, &b1);
    acc0 = vfmaq_f32(acc0, a0, b0);
    acc1 = vfmaq_f32(acc1, a1, b1);
  }
  float sum = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < n; ++i) {
    sum += kBf16 ? bf16_to_fp32(a[i]) * bf16_to_fp32(b[i]) : h2f(a[i]) * h2f(b[i]);
  }
  return sum;
}

}  // namespace

VecDotFn vec_dot_neon(TensorType t) {
  switch (t) {
    case TensorType::kF32:
      return dot_f32;
    case TensorType::kF16:
      return dot_16bit<false>;
    case TensorType::kBF16:
      return dot_16bit<true>;
    default:
      return quantized_dot(t);
  }
}

void axpy_f32_neon(int64_t n, float a, const float* x, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
    vst1q_f32(y + i + 4, vfmaq_n_f32(vld1q_f32(y + i + 4), vld1q_f32(x + i + 4), a));
  }
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_n_f32(vld1q_f32(y + i), vld1q_f32(x + i), a));
  for (; i < n; ++i) y[i] += a * x[i];
}

}  // namespace dkb::kernels::detail
