// AVX2 dequantizers (F16, BF16, Q4_0, Q8_0, Q4_K, Q6_K): the values of the scalar references in
// dequantize.cpp / dequantize_k.cpp bit for bit. Each element is one float product (and, Q4_K,
// one subtraction) of exactly representable factors computed as the references compute them
// (scales first, in the same order), so vector width changes nothing. Same file rules as
// vec_dot_avx2.cpp.
#include <immintrin.h>

#include <cstdint>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

// 32 bytes (in element order) times d, stored at y.
static void store_scaled_i8x32(__m256i q, __m256 d, float* y) {
  const __m128i lo = _mm256_castsi256_si128(q);
  const __m128i hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(y + 0, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
  _mm256_storeu_ps(y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
  _mm256_storeu_ps(y + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
  _mm256_storeu_ps(y + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
}

static float h2f(uint16_t h) { return _cvtsh_ss(h); }

}  // namespace

void dequantize_f16_avx2(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  }
  for (; i < n; ++i) dst[i] = h2f(h[i]);
}

void dequantize_bf16_avx2(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  for (; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
}

void dequantize_q4_0_avx2(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  const int64_t nb = n / kQK4_0;
  const __m256i low = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
  for (int64_t i = 0; i < nb; ++i) {
    const __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs));
    __m256i q = _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp);
    q = _mm256_sub_epi8(_mm256_and_si256(q, low), eight);
    store_scaled_i8x32(q, _mm256_set1_ps(h2f(x[i].d)), dst + i * kQK4_0);
  }
}

void dequantize_q8_0_avx2(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  const int64_t nb = n / kQK8_0;
  for (int64_t i = 0; i < nb; ++i) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs));
    store_scaled_i8x32(q, _mm256_set1_ps(h2f(x[i].d)), dst + i * kQK8_0);
  }
}

void dequantize_q4_k_avx2(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_K*>(src);
  const int64_t nb = n / kQK_K;
  float* y = dst;
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    const float min = h2f(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int is = 0; is < 8; is += 2, q += 32) {
      uint8_t sc, m;
      get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
      const __m256 d1 = _mm256_set1_ps(d * sc), m1 = _mm256_set1_ps(min * m);
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const __m256 d2 = _mm256_set1_ps(d * sc), m2 = _mm256_set1_ps(min * m);
      for (int l = 0; l < 32; l += 8) {
        const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + l)));
        const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(b, _mm256_set1_epi32(0x0F)));
        const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4));
        _mm256_storeu_ps(y + l, _mm256_sub_ps(_mm256_mul_ps(d1, lo), m1));
        _mm256_storeu_ps(y + 32 + l, _mm256_sub_ps(_mm256_mul_ps(d2, hi), m2));
      }
      y += 64;
    }
  }
}

void dequantize_q6_k_avx2(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ6_K*>(src);
  const int64_t nb = n / kQK_K;
  float* y = dst;
  const __m256i m4 = _mm256_set1_epi32(0x0F), m2 = _mm256_set1_epi32(3), k32 = _mm256_set1_epi32(32);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h2f(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int half = 0; half < kQK_K; half += 128) {
      for (int l = 0; l < 32; l += 8) {
        const int is = l / 16;
        const __m256i a = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(ql + l)));
        const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(ql + l + 32)));
        const __m256i h = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(qh + l)));
        const __m256i q1 = _mm256_or_si256(_mm256_and_si256(a, m4), _mm256_slli_epi32(_mm256_and_si256(h, m2), 4));
        const __m256i q2 = _mm256_or_si256(_mm256_and_si256(b, m4),
                                           _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2), m2), 4));
        const __m256i q3 = _mm256_or_si256(_mm256_srli_epi32(a, 4),
                                           _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 4), m2), 4));
        const __m256i q4 = _mm256_or_si256(_mm256_srli_epi32(b, 4),
                                           _mm256_slli_epi32(_mm256_srli_epi32(h, 6), 4));
        // (d * scale) * q, as the reference's left-to-right product.
        const auto put = [&](float* out, int s, __m256i q) {
          const __m256 ds = _mm256_set1_ps(d * static_cast<float>(sc[s]));
          _mm256_storeu_ps(out, _mm256_mul_ps(ds, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, k32))));
        };
        put(y + l + 0, is + 0, q1);
        put(y + l + 32, is + 2, q2);
        put(y + l + 64, is + 4, q3);
        put(y + l + 96, is + 6, q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

}  // namespace dkb::kernels::detail
