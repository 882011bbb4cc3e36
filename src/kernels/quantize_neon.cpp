// NEON quantizers of the activation formats Q8_0 and Q8_K (what every matmul converts its input
// to), bit-identical to the scalar references in quantize.cpp: Q8_0 rounds half away from zero
// like std::round (fcvtas), Q8_K to even like ggml's nearest_int (fcvtns); maxima skip NaNs like
// the scalar comparisons (fmaxnm). Same file rules as vec_dot_avx2.cpp.
#include <arm_neon.h>

#include <cstdint>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

// Narrows 16 int32 (each in [-128, 127]) to 16 int8 in order.
inline int8x16_t narrow16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
  const int16x8_t ab = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
  const int16x8_t cd = vcombine_s16(vqmovn_s32(c), vqmovn_s32(d));
  return vcombine_s8(vqmovn_s16(ab), vqmovn_s16(cd));
}

}  // namespace

void quantize_q8_0_neon(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK8_0;
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; ++k) {
      v[k] = vld1q_f32(x + 4 * k);
      m = vmaxnmq_f32(m, vabsq_f32(v[k]));
    }
    const float amax = vmaxnmvq_f32(m);
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    int32x4_t q[8];
    for (int k = 0; k < 8; ++k) q[k] = vcvtaq_s32_f32(vmulq_n_f32(v[k], id));
    vst1q_s8(y[i].qs, narrow16(q[0], q[1], q[2], q[3]));
    vst1q_s8(y[i].qs + 16, narrow16(q[4], q[5], q[6], q[7]));
  }
}

void quantize_q8_k_neon(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  const int64_t nb = n / kQK_K;
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < kQK_K / 4; ++k) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + 4 * k)));
    const float amax = vmaxnmvq_f32(m);
    const float iscale = q8_k_block_iscale(x, amax, &y[i]);
    if (iscale == 0.0f) continue;  // an all-zero block
    const int32x4_t lim = vdupq_n_s32(127);
    for (int k = 0; k < kQK_K / 16; ++k) {
      int32x4_t q[4];
      for (int l = 0; l < 4; ++l) {
        q[l] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * k + 4 * l), iscale)), lim);
      }
      const int8x16_t q8 = narrow16(q[0], q[1], q[2], q[3]);
      vst1q_s8(y[i].qs + 16 * k, q8);
      y[i].bsums[k] = vaddlvq_s8(q8);
    }
    y[i].d = 1 / iscale;
  }
}

}  // namespace dkb::kernels::detail
