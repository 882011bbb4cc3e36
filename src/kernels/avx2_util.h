// Small AVX2 helpers shared by the *_avx2.cpp translation units (row dot products, GEMM
// packing and micro-kernels). Include only from files compiled with the AVX2 flags: the guard
// below enforces it, so no baseline translation unit can pick up an AVX2 copy (see
// kernels_internal.h). Internal linkage keeps each unit's copy its own.
#pragma once

#ifndef __AVX2__
#error "avx2_util.h is for *_avx2.cpp files only"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace dkb::kernels::detail {
namespace {

// Sum of the 8 lanes, in a fixed order (results must not depend on the caller).
inline float hsum_ps(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

inline float hsum_ps128(__m128 r) {
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store256(void* p, __m256i v) { _mm256_storeu_si256(static_cast<__m256i*>(p), v); }

// 32 nibbles -> 32 bytes: low nibbles of q[0..15] then high nibbles.
inline __m256i unpack_nibbles(const uint8_t* q) {
  const __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m256i bytes = _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp);
  return _mm256_and_si256(bytes, _mm256_set1_epi8(0x0F));
}

// Byte i = 0xFF when bit i of the 32-bit little-endian word at p is set, else 0.
inline __m256i bits_to_bytes(const uint8_t* p) {
  uint32_t x32;
  std::memcpy(&x32, p, sizeof x32);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101,
                                         0x0000000000000000);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x32)), shuf);
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

// Sum of adjacent products of unsigned bytes u and signed bytes s, as 8 int32 lanes.
inline __m256i dot_us8(__m256i u, __m256i s) {
  const __m256i p16 = _mm256_maddubs_epi16(u, s);
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

// Same for two signed byte vectors (|values| <= 127 in at least one of them).
inline __m256i dot_ss8(__m256i a, __m256i b) {
  return dot_us8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

// Q4_K/Q5_K packed 6-bit scales -> 16 bytes: scales 0..7 then mins 0..7.
inline __m128i unpack_scales_mins(const uint8_t* packed) {
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, packed, 12);
  u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
  const uint32_t mins_lo = u[1] & kmask1;
  u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
  u[2] = mins_lo;
  u[0] &= kmask1;
  return _mm_set_epi32(static_cast<int>(u[3]), static_cast<int>(u[2]), static_cast<int>(u[1]),
                       static_cast<int>(u[0]));
}

// sum_j mins[j] * (sum of the 32 q8 values of sub-block j), as 4 int32 lanes.
inline __m128i mins_dot_bsums(__m256i mins_and_scales16, const int16_t* bsums) {
  const __m256i q8sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
  const __m128i q8s =
      _mm_hadd_epi16(_mm256_castsi256_si128(q8sums), _mm256_extracti128_si256(q8sums, 1));
  return _mm_madd_epi16(_mm256_extracti128_si256(mins_and_scales16, 1), q8s);
}

// Broadcast int16 lane i of each 128-bit half.
inline __m256i broadcast16(__m256i v, int i) {
  return _mm256_shuffle_epi8(v,
                             _mm256_set1_epi16(static_cast<int16_t>(((2 * i + 1) << 8) | (2 * i))));
}

}  // namespace
}  // namespace dkb::kernels::detail
