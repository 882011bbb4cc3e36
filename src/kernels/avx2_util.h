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

}  // namespace
}  // namespace dkb::kernels::detail
