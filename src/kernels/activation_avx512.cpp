// SwiGLU at the AVX-512 level: silu(gate) * up with ggml's 16-wide vector exp (ggml_v_expf for
// AVX-512: ARM's optimized-routines expf with vscalefps; at most 1.95 ulp, inf above ~88.38,
// zero below ~-103.97), as ggml_vec_swiglu_f32 computes it there; the tail (n mod 16) is scalar.
// Softmax's exponentials and their sum the same way (ggml_vec_soft_max_f32 there); its scale,
// max and normalization 16 floats at a time.
#include <immintrin.h>

#include <cmath>

#include "kernels/kernels.h"
#include "kernels_internal.h"

// GCC 12's _mm512_reduce_add_ps, _mm512_castps512_ps256 and _mm512_shuffle_f32x4 pass an
// undefined vector through, which -Wmaybe-uninitialized / -Wuninitialized report as false
// positives (see gemm_avx512.cpp); the lanes read are always defined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace dkb::kernels::detail {
namespace {

// exp(x) = 2^n * (1 + p(b)) with n = round(x / ln 2) and b = x - n ln 2 (ln 2 in two parts).
__m512 exp_ps(__m512 x) {
  const __m512 shift = _mm512_set1_ps(0x1.8p23f);  // adding it rounds to an integer
  const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shift);
  const __m512 n = _mm512_sub_ps(z, shift);
  const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
  const __mmask16 huge = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
  const __m512 u = _mm512_mul_ps(b, b);
  const __m512 j = _mm512_fmadd_ps(
      _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)),
                      u,
                      _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
      u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
  // j * 2^n (vscalefps; the all-lanes mask form: GCC 12's _mm512_scalef_ps passes an undefined
  // vector and warns).
  const __m512 res = _mm512_maskz_scalef_ps(0xFFFF, j, n);
  if (huge == 0) return res;
  // |n| > 192: inf for large positive x, zero for large negative x.
  const __mmask16 neg = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
  const __m512 sat = _mm512_mask_blend_ps(neg, _mm512_set1_ps(__builtin_inff()), _mm512_setzero_ps());
  return _mm512_mask_blend_ps(huge, res, sat);
}

__m512 silu_ps(__m512 x) {
  const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

}  // namespace

void swiglu_f32_avx512(const float* gate, const float* up, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(out + i, _mm512_mul_ps(silu_ps(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i)));
  }
  for (; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

namespace {
double softmax_exp(float* x, int64_t n, float max) {
  double sum = 0.0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_set1_ps(max)));
    _mm512_storeu_ps(x + i, v);
    sum += static_cast<double>(_mm512_reduce_add_ps(v));
  }
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += static_cast<double>(x[i]);
  }
  return sum;
}
}  // namespace

void softmax_f32_avx512(float* x, int64_t n, float scale) {
  const __m512 vs = _mm512_set1_ps(scale);
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vs);
    _mm512_storeu_ps(x + i, v);
    vmax = _mm512_max_ps(v, vmax);  // a NaN v gives the second operand: never the max
  }
  const __m256 m8 = _mm256_max_ps(_mm512_castps512_ps256(vmax),
                                  _mm512_castps512_ps256(_mm512_shuffle_f32x4(vmax, vmax, 0xEE)));
  __m128 m = _mm_max_ps(_mm256_extractf128_ps(m8, 1), _mm256_castps256_ps128(m8));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  float max = _mm_cvtss_f32(m);
  if (!softmax_scale_max(x, i, n, scale, max)) return;
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / softmax_exp(x, n, max)));
  for (i = 0; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
  for (; i < n; ++i) x[i] *= _mm512_cvtss_f32(inv);
}

}  // namespace dkb::kernels::detail
