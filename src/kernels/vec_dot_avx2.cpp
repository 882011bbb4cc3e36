// AVX2+FMA+F16C dot products for float and legacy types (compiled with -mavx2 -mfma -mf16c;
// only reached through dispatch when the CPU supports them). Same per-block integer sums as the
// scalar references; only the float accumulation order differs.
//
// Nothing here may be an inline function or template shared with baseline translation units
// (see kernels_internal.h), hence the static helpers and the absence of std headers.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "avx2_util.h"
#include "kernels/blocks.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

static float h2f(uint16_t h) {
  return _cvtsh_ss(h);
}

}  // namespace

float vec_dot_f32_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const float*>(w);
  const auto* b = static_cast<const float*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy_f32_avx2(int64_t n, float a, const float* x, float* y) {
  const __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    _mm256_storeu_ps(y + i + 8,
                     _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
  }
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

void dot_rows_f32_avx2(int64_t n, const float* k, int64_t k_stride, int64_t n_rows,
                       const float* const* q, int nq, float* const* s, const float* pf) {
  for (int64_t j = 0; j < n_rows; ++j) {
    if (pf != nullptr) {
      const float* next = pf + j * k_stride;
      for (int64_t i = 0; i < n; i += 16)
        _mm_prefetch(reinterpret_cast<const char*>(next + i), _MM_HINT_T0);
    }
    const float* row = k + j * k_stride;
    for (int g = 0; g < nq; ++g) s[g][j] = vec_dot_f32_avx2(n, row, q[g]);
  }
}

namespace {
// kVec 8-float vectors of out (from d) accumulate every row's term in row order; the same
// elements of pf's rows are prefetched (unless pf is null).
template <int kVec>
void weighted_chunk(int64_t d, const float* s, int64_t n_rows, const float* v, int64_t v_stride,
                    float* out, const float* pf) {
  __m256 acc[kVec];
#pragma GCC unroll 8
  for (int i = 0; i < kVec; ++i) acc[i] = _mm256_loadu_ps(out + d + 8 * i);
  for (int64_t j = 0; j < n_rows; ++j) {
    if (pf != nullptr) {
#pragma GCC unroll 4
      for (int i = 0; i < kVec; i += 2) {
        _mm_prefetch(reinterpret_cast<const char*>(pf + j * v_stride + d + 8 * i), _MM_HINT_T0);
      }
    }
    const __m256 sj = _mm256_set1_ps(s[j]);
    const float* vj = v + j * v_stride + d;
#pragma GCC unroll 8
    for (int i = 0; i < kVec; ++i)
      acc[i] = _mm256_fmadd_ps(sj, _mm256_loadu_ps(vj + 8 * i), acc[i]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < kVec; ++i) _mm256_storeu_ps(out + d + 8 * i, acc[i]);
}
}  // namespace

void weighted_rows_f32_avx2(int64_t n, const float* s, int64_t n_rows, const float* v,
                            int64_t v_stride, float* out, const float* pf) {
  // axpy_f32_avx2 takes every element below n rounded down to 8 with one FMA, the rest with a
  // multiply and an add; per element the same operations in the same row order here.
  int64_t d = 0;
  for (; d + 64 <= n; d += 64) weighted_chunk<8>(d, s, n_rows, v, v_stride, out, pf);
  for (; d + 8 <= n; d += 8) weighted_chunk<1>(d, s, n_rows, v, v_stride, out, pf);
  for (; d < n; ++d) {
    float y = out[d];
    for (int64_t j = 0; j < n_rows; ++j) y += s[j] * v[j * v_stride + d];
    out[d] = y;
  }
}

float vec_dot_f16_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  auto load = [](const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  };
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(load(a + i), load(b + i), acc0);
    acc1 = _mm256_fmadd_ps(load(a + i + 8), load(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load(a + i), load(b + i), acc0);
  float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += h2f(a[i]) * h2f(b[i]);
  return sum;
}

float vec_dot_bf16_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const uint16_t*>(w);
  const auto* b = static_cast<const uint16_t*>(x);
  auto load = [](const uint16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  };
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(load(a + i), load(b + i), acc0);
    acc1 = _mm256_fmadd_ps(load(a + i + 8), load(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load(a + i), load(b + i), acc0);
  float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) {
    uint32_t ua = static_cast<uint32_t>(a[i]) << 16, ub = static_cast<uint32_t>(b[i]) << 16;
    float fa, fb;
    std::memcpy(&fa, &ua, 4);
    std::memcpy(&fb, &ub, 4);
    sum += fa * fb;
  }
  return sum;
}

float vec_dot_q4_0_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
    const __m256i qx = _mm256_sub_epi8(unpack_nibbles(a[i].qs), _mm256_set1_epi8(8));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_ss8(qx, qy)), acc);
  }
  return hsum_ps(acc);
}

float vec_dot_q4_1_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK8_1;
  __m256 acc = _mm256_setzero_ps();
  float summs = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    summs += h2f(a[i].m) * h2f(b[i].s);
    const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
    const __m256i qx = unpack_nibbles(a[i].qs);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_us8(qx, qy)), acc);
  }
  return hsum_ps(acc) + summs;
}

float vec_dot_q5_0_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
    // q - 16 as a signed byte: nibble | 0xF0 when the high bit is clear, nibble otherwise.
    const __m256i hi =
        _mm256_andnot_si256(bits_to_bytes(a[i].qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
    const __m256i qx = _mm256_or_si256(unpack_nibbles(a[i].qs), hi);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_ss8(qx, qy)), acc);
  }
  return hsum_ps(acc);
}

float vec_dot_q5_1_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_1*>(w);
  const auto* b = static_cast<const BlockQ8_1*>(x);
  const int64_t nb = n / kQK8_1;
  __m256 acc = _mm256_setzero_ps();
  float summs = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    summs += h2f(a[i].m) * h2f(b[i].s);
    const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
    const __m256i hi = _mm256_and_si256(bits_to_bytes(a[i].qh), _mm256_set1_epi8(0x10));
    const __m256i qx = _mm256_or_si256(unpack_nibbles(a[i].qs), hi);
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_us8(qx, qy)), acc);
  }
  return hsum_ps(acc) + summs;
}

float vec_dot_q8_0_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ8_0*>(w);
  const auto* b = static_cast<const BlockQ8_0*>(x);
  const int64_t nb = n / kQK8_0;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const __m256 d = _mm256_set1_ps(h2f(a[i].d) * h2f(b[i].d));
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
    const __m256i qy = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_ss8(qx, qy)), acc);
  }
  return hsum_ps(acc);
}

}  // namespace dkb::kernels::detail
