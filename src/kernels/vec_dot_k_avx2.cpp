// AVX2 dot products of the K-quants (Q2_K..Q6_K) with Q8_K (see vec_dot_avx2.cpp for the rules on
// what may be used in this file). Integer sums per 32-element sub-block are exact; mins are
// applied through the Q8_K bsums, as in ggml.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "avx2_util.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

// Per-lane scale broadcast for 2-bit/3-bit sub-blocks of 16: low 128-bit lane gets int16
// scale 2k, high lane 2k+1 (the 32 bytes of one shift level span two sub-blocks).
static __m256i scale_pair(__m256i scales16x2, int k) {
  const int lo = 2 * k, hi = 2 * k + 1;
  const __m256i shuf =
      _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(((2 * hi + 1) << 8) | (2 * hi))),
                       _mm_set1_epi16(static_cast<int16_t>(((2 * lo + 1) << 8) | (2 * lo))));
  return _mm256_shuffle_epi8(scales16x2, shuf);
}

}  // namespace

float vec_dot_q2_k_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ2_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m128i m4 = _mm_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const float d = b[i].d * _cvtsh_ss(a[i].d);
    const float dmin = -b[i].d * _cvtsh_ss(a[i].dmin);
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    const __m128i scales8 = _mm_and_si128(packed, m4);
    const __m128i mins8 = _mm_and_si128(_mm_srli_epi16(packed, 4), m4);
    const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].bsums));
    const __m256i prod = _mm256_madd_epi16(_mm256_cvtepi8_epi16(mins8), bsums);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc);
    const __m256i all = _mm256_cvtepi8_epi16(scales8);
    const __m128i lo = _mm256_castsi256_si128(all), hi = _mm256_extracti128_si256(all, 1);
    const __m256i half_scales[2] = {_mm256_set_m128i(lo, lo), _mm256_set_m128i(hi, hi)};
    const uint8_t* q2 = a[i].qs;
    const int8_t* q8 = b[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q2));
      for (int k = 0; k < 4; ++k) {
        const __m256i q = _mm256_and_si256(_mm256_srl_epi16(bits, _mm_cvtsi32_si128(2 * k)), m3);
        const __m256i q8v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32 * k));
        const __m256i p16 = _mm256_maddubs_epi16(q, q8v);
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale_pair(half_scales[h], k), p16));
      }
      q2 += 32;
      q8 += 128;
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum_ps(acc);
}

float vec_dot_q3_k_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ3_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const float d = b[i].d * _cvtsh_ss(a[i].d);
    int8_t sc[16];
    unpack_q3_k_scales(a[i].scales, sc);
    const __m128i scales8 =
        _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc)), _mm_set1_epi8(32));
    const __m256i all = _mm256_cvtepi8_epi16(scales8);
    const __m128i lo = _mm256_castsi256_si128(all), hi = _mm256_extracti128_si256(all, 1);
    const __m256i half_scales[2] = {_mm256_set_m128i(lo, lo), _mm256_set_m128i(hi, hi)};
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].hmask));
    const uint8_t* q3 = a[i].qs;
    const int8_t* q8 = b[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q3));
      for (int k = 0; k < 4; ++k) {
        const __m256i ql = _mm256_and_si256(_mm256_srl_epi16(bits, _mm_cvtsi32_si128(2 * k)), m3);
        // 4 where the high bit is clear: value = ql - 4 * !hbit.
        const __m256i hb =
            _mm256_and_si256(_mm256_srl_epi16(hbits, _mm_cvtsi32_si128(4 * h + k)), one);
        const __m256i sub4 = _mm256_slli_epi16(_mm256_xor_si256(hb, one), 2);
        const __m256i q8v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32 * k));
        const __m256i p16 =
            _mm256_sub_epi16(_mm256_maddubs_epi16(ql, q8v), _mm256_maddubs_epi16(sub4, q8v));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(scale_pair(half_scales[h], k), p16));
      }
      q3 += 32;
      q8 += 128;
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum_ps(acc);
}

float vec_dot_q4_k_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ4_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const float d = b[i].d * _cvtsh_ss(a[i].d);
    const float dmin = -b[i].d * _cvtsh_ss(a[i].dmin);
    const __m256i ms = _mm256_cvtepu8_epi16(unpack_scales_mins(a[i].scales));
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mins_dot_bsums(ms, b[i].bsums)), acc_m);
    const __m128i sc128 = _mm256_castsi256_si128(ms);
    const __m256i scales = _mm256_set_m128i(sc128, sc128);
    const uint8_t* q4 = a[i].qs;
    const int8_t* q8 = b[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < kQK_K / 64; ++j) {
      const __m256i q4bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q4));
      const __m256i q4l = _mm256_and_si256(q4bits, m4);
      const __m256i q4h = _mm256_and_si256(_mm256_srli_epi16(q4bits, 4), m4);
      const __m256i q8l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8));
      const __m256i q8h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32));
      const __m256i p_l =
          _mm256_madd_epi16(broadcast16(scales, 2 * j), _mm256_maddubs_epi16(q4l, q8l));
      const __m256i p_h =
          _mm256_madd_epi16(broadcast16(scales, 2 * j + 1), _mm256_maddubs_epi16(q4h, q8h));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p_l, p_h));
      q4 += 32;
      q8 += 64;
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum_ps(acc) + hsum_ps128(acc_m);
}

float vec_dot_q5_k_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ5_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i one = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const float d = b[i].d * _cvtsh_ss(a[i].d);
    const float dmin = -b[i].d * _cvtsh_ss(a[i].dmin);
    const __m256i ms = _mm256_cvtepu8_epi16(unpack_scales_mins(a[i].scales));
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mins_dot_bsums(ms, b[i].bsums)), acc_m);
    const __m128i sc128 = _mm256_castsi256_si128(ms);
    const __m256i scales = _mm256_set_m128i(sc128, sc128);
    const __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qh));
    const uint8_t* q5 = a[i].qs;
    const int8_t* q8 = b[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < kQK_K / 64; ++j) {
      const __m256i q5bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q5));
      // High bit of element l in this 64-group: bit 2j (low nibble) / 2j+1 (high) of qh[l].
      const __m256i h_l = _mm256_slli_epi16(
          _mm256_and_si256(_mm256_srl_epi16(hbits, _mm_cvtsi32_si128(2 * j)), one), 4);
      const __m256i h_h = _mm256_slli_epi16(
          _mm256_and_si256(_mm256_srl_epi16(hbits, _mm_cvtsi32_si128(2 * j + 1)), one), 4);
      const __m256i q5l = _mm256_or_si256(_mm256_and_si256(q5bits, m4), h_l);
      const __m256i q5h = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q5bits, 4), m4), h_h);
      const __m256i q8l = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8));
      const __m256i q8h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32));
      const __m256i p_l =
          _mm256_madd_epi16(broadcast16(scales, 2 * j), _mm256_maddubs_epi16(q5l, q8l));
      const __m256i p_h =
          _mm256_madd_epi16(broadcast16(scales, 2 * j + 1), _mm256_maddubs_epi16(q5h, q8h));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p_l, p_h));
      q5 += 32;
      q8 += 64;
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum_ps(acc) + hsum_ps128(acc_m);
}

float vec_dot_q6_k_avx2(int64_t n, const void* w, const void* x) {
  const auto* a = static_cast<const BlockQ6_K*>(w);
  const auto* b = static_cast<const BlockQ8_K*>(x);
  const int64_t nb = n / kQK_K;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m2 = _mm256_set1_epi8(3);
  const __m256i m32s = _mm256_set1_epi8(32);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const float d = b[i].d * _cvtsh_ss(a[i].d);
    const __m128i scales8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a[i].scales));
    const uint8_t* ql = a[i].ql;
    const uint8_t* qh = a[i].qh;
    const int8_t* q8 = b[i].qs;
    __m256i sumi = _mm256_setzero_si256();
    for (int j = 0; j < kQK_K / 128; ++j) {
      const __m256i hb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
      const __m256i lb1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
      const __m256i lb2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
      __m256i q[4];
      q[0] = _mm256_or_si256(_mm256_and_si256(lb1, m4),
                             _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
      q[1] = _mm256_or_si256(_mm256_and_si256(lb2, m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
      q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb1, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
      q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb2, 4), m4),
                             _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
      for (int k = 0; k < 4; ++k) {
        const __m256i q8v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32 * k));
        // (q - 32) * q8 summed in pairs, without leaving the unsigned-by-signed instruction.
        const __m256i p16 =
            _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], q8v), _mm256_maddubs_epi16(m32s, q8v));
        // Scales 8j+2k (first 16 elements) and 8j+2k+1 (next 16).
        const int s = 8 * j + 2 * k;
        const __m128i sh = _mm_set_epi8(
            static_cast<char>(s + 1), static_cast<char>(s + 1), static_cast<char>(s + 1),
            static_cast<char>(s + 1), static_cast<char>(s + 1), static_cast<char>(s + 1),
            static_cast<char>(s + 1), static_cast<char>(s + 1), static_cast<char>(s),
            static_cast<char>(s), static_cast<char>(s), static_cast<char>(s), static_cast<char>(s),
            static_cast<char>(s), static_cast<char>(s), static_cast<char>(s));
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales8, sh));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc16, p16));
      }
      ql += 64;
      qh += 32;
      q8 += 128;
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum_ps(acc);
}

}  // namespace dkb::kernels::detail
