// AVX2 quantizers of the activation formats Q8_0 and Q8_K (what every matmul converts its
// input to), and of F16 (the f16 KV cache's rows). Bit-identical to the scalar references in
// quantize.cpp: Q8_0 rounds half away from zero like std::round, Q8_K rounds half to even like
// ggml's nearest_int (the default MXCSR rounding of cvtps2dq). Same file rules as vec_dot_avx2.cpp.
#include <immintrin.h>

#include <cstdint>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

static float hmax_ps(__m256 x) {
  __m128 r = _mm_max_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_max_ps(r, _mm_movehl_ps(r, r));
  r = _mm_max_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

// std::round (half away from zero) of 8 floats of magnitude < 2^23, as int32.
static __m256i round_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 frac = _mm256_andnot_ps(sign_mask, _mm256_sub_ps(v, t));
  const __m256 ge_half = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 one = _mm256_or_ps(_mm256_and_ps(v, sign_mask), _mm256_set1_ps(1.0f));
  return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(ge_half, one)));
}

// Packs 4 x 8 int32 (each in [-128, 127]) into 32 int8 in element order.
static __m256i pack_i32x32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b);
  const __m256i cd = _mm256_packs_epi32(c, d);
  const __m256i abcd = _mm256_packs_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

}  // namespace

void quantize_q8_0_avx2(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  const int64_t nb = n / kQK8_0;
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK8_0;
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      m = _mm256_max_ps(m, _mm256_and_ps(v[k], abs_mask));
    }
    const float amax = hmax_ps(m);
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = fp32_to_fp16(d);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = round_away(_mm256_mul_ps(v[k], vid));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs),
                        pack_i32x32_to_i8(q[0], q[1], q[2], q[3]));
  }
}

void quantize_q8_k_avx2(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_K*>(dst);
  const int64_t nb = n / kQK_K;
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < kQK_K / 8; ++k) {
      m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + 8 * k), abs_mask));
    }
    const float amax = hmax_ps(m);
    if (amax == 0.0f) {  // the all-zero block
      q8_k_block_iscale(x, amax, &y[i]);
      continue;
    }
    // The signed value of the first element of magnitude amax (q8_k_block_iscale's scan, 8 at
    // a time; 0 when there is none, as there).
    float max = 0.0f;
    const __m256 va = _mm256_set1_ps(amax);
    for (int k = 0; k < kQK_K / 8; ++k) {
      const __m256 ax = _mm256_and_ps(_mm256_loadu_ps(x + 8 * k), abs_mask);
      const int hit = _mm256_movemask_ps(_mm256_cmp_ps(ax, va, _CMP_EQ_OQ));
      if (hit != 0) {
        max = x[8 * k + __builtin_ctz(static_cast<unsigned>(hit))];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps(iscale);
    const __m256i lim = _mm256_set1_epi32(127);
    for (int k = 0; k < kQK_K / 32; ++k) {
      __m256i q[4];
      for (int l = 0; l < 4; ++l) {
        q[l] = _mm256_min_epi32(
            _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * k + 8 * l), vs)), lim);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs + 32 * k),
                          pack_i32x32_to_i8(q[0], q[1], q[2], q[3]));
      // The sums of the two 16-value groups, from the int32 values (each within [-127, 127], so
      // the int8 packing keeps them): hadd twice leaves each group's half-sums in lanes 0 / 1
      // (first 4 + 4 values of each 8) and 4 / 5 (the other 4 + 4).
      const __m256i h = _mm256_hadd_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
      const __m256i h2 = _mm256_hadd_epi32(h, h);
      const __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(h2), _mm256_extracti128_si256(h2, 1));
      y[i].bsums[2 * k] = static_cast<int16_t>(_mm_cvtsi128_si32(sum));
      y[i].bsums[2 * k + 1] = static_cast<int16_t>(_mm_extract_epi32(sum, 1));
    }
    y[i].d = 1 / iscale;
  }
}

// vcvtps2ph rounding to nearest even: the scalar fp32_to_fp16's bits for every value but NaN
// (overflow to inf, f16 subnormals included); 8 floats holding a NaN take the scalar
// conversion (its NaN is 0x7E00 with the sign, as ggml's).
void quantize_f16_avx2(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(src + i);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
      quantize_f16(src + i, h + i, 8);
      continue;
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i),
                     _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  if (i < n) quantize_f16(src + i, h + i, n - i);
}

}  // namespace dkb::kernels::detail
