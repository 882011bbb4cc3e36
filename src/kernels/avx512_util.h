// Small AVX-512 helpers shared by the *_avx512.cpp translation units (attention rows, head
// products). Include only from files compiled with the AVX-512 flags: the guard below enforces
// it, so no baseline translation unit can pick up an AVX-512 copy (see kernels_internal.h).
// Internal linkage keeps each unit's copy its own.
#pragma once

#ifndef __AVX512F__
#error "avx512_util.h is for *_avx512.cpp files only"
#endif

#include <immintrin.h>

#include "avx2_util.h"  // hsum_ps (the AVX-512 flags include AVX2)

namespace dkb::kernels::detail {
namespace {

// Lanes 8-15 (AVX-512F only: no DQ extract).
inline __m256 high8(__m512 v) {
  return _mm512_castps512_ps256(_mm512_shuffle_f32x4(v, v, 0xEE));
}

// vec_dot_f32_avx2's final sum when its four 8-lane accumulators are kept as the halves of two
// zmm registers (a01: acc0 | acc1, a23: acc2 | acc3): hsum((acc0 + acc1) + (acc2 + acc3)).
inline float hsum_acc_pairs(__m512 a01, __m512 a23) {
  const __m256 acc0 = _mm512_castps512_ps256(a01), acc1 = high8(a01);
  const __m256 acc2 = _mm512_castps512_ps256(a23), acc3 = high8(a23);
  return hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
}

}  // namespace
}  // namespace dkb::kernels::detail
