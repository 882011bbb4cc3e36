// SwiGLU at the NEON levels: silu(gate) * up with ggml's 4-wide vector exp (ggml_v_expf for
// NEON, ARM's optimized-routines expf: at most 1.95 ulp, inf above ~88.38, zero below
// ~-103.97), as ggml_vec_swiglu_f32 computes it there; the tail (n mod 4) is scalar silu.
#include <arm_neon.h>

#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

// exp(x) = 2^n * (1 + p(b)) with n = round(x / ln 2) and b = x - n ln 2 (ln 2 in two parts).
float32x4_t exp_ps(float32x4_t x) {
  const float32x4_t shift = vdupq_n_f32(0x1.8p23f);  // adding it rounds to an integer
  const float32x4_t z = vfmaq_f32(shift, x, vdupq_n_f32(0x1.715476p+0f));
  const float32x4_t n = vsubq_f32(z, shift);
  const float32x4_t b = vfmsq_f32(vfmsq_f32(x, n, vdupq_n_f32(0x1.62e4p-1f)), n,
                                  vdupq_n_f32(0x1.7f7d1cp-20f));
  const uint32x4_t e = vshlq_n_u32(vreinterpretq_u32_f32(z), 23);  // n in the exponent field
  const float32x4_t k = vreinterpretq_f32_u32(vaddq_u32(e, vreinterpretq_u32_f32(vdupq_n_f32(1))));
  const uint32x4_t big = vcagtq_f32(n, vdupq_n_f32(126));
  const float32x4_t u = vmulq_f32(b, b);
  const float32x4_t j = vfmaq_f32(
      vmulq_f32(vdupq_n_f32(0x1.ffffecp-1f), b),
      vfmaq_f32(vfmaq_f32(vdupq_n_f32(0x1.fffdb6p-2f), vdupq_n_f32(0x1.555e66p-3f), b),
                vfmaq_f32(vdupq_n_f32(0x1.573e2ep-5f), vdupq_n_f32(0x1.0e4020p-7f), b), u),
      u);
  if (vmaxvq_u32(big) == 0) return vfmaq_f32(k, j, k);
  // 2^n out of a float's exponent range: scale in two steps (s1 * s2), or saturate to inf / 0
  // beyond |n| > 192.
  const uint32x4_t d = vandq_u32(vclezq_f32(n), vdupq_n_u32(0x82000000u));
  const float32x4_t s1 = vreinterpretq_f32_u32(vaddq_u32(d, vdupq_n_u32(0x7f000000u)));
  const float32x4_t s2 = vreinterpretq_f32_u32(vsubq_u32(e, d));
  return vbslq_f32(vcagtq_f32(n, vdupq_n_f32(192)), vmulq_f32(s1, s1),
                   vbslq_f32(big, vmulq_f32(vfmaq_f32(s2, s2, j), s1), vfmaq_f32(k, k, j)));
}

float32x4_t silu_ps(float32x4_t x) {
  const float32x4_t e = exp_ps(vsubq_f32(vdupq_n_f32(0.0f), x));
  return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), e));
}

}  // namespace

void swiglu_f32_neon(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    vst1q_f32(out + i, vmulq_f32(silu_ps(vld1q_f32(gate + i)), vld1q_f32(up + i)));
  }
  for (; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

}  // namespace dkb::kernels::detail
