// AVX2 quantized GEMM for many activation rows (prefill, batched decode): weight rows are first
// unpacked ("packed") once per panel into plain int8/uint8 blocks, then a register-blocked
// micro-kernel computes a tile of GR weight rows x GC tokens, reusing every unpacked weight
// vector for GC tokens and every activation vector for GR rows. See kernels_internal.h for the
// packed formats. Same rules as vec_dot_avx2.cpp: no inline function or std header shared with
// baseline translation units (templates here live in an anonymous namespace).
//
// Integer sums per block are the same as vec_dot_*_avx2's; float accumulation differs: Q5_0/
// Q8_0 scale 8 blocks at once after an hadd reduction, Q4_0 multiplies unsigned nibbles and
// applies its -8 offset through the activation block sums, K-quants apply the min/offset term
// with one int16 dot over the Q8_K bsums. Results equal vec_dot up to float summation order.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/blocks.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

// Packed K-quant super-block: 256 unsigned quants (< 64), per-32 int16 scale vectors laid out as
// madd expects (low 128-bit lane: scale of elements 0..15 of the chunk, high lane: 16..31),
// int16 offset/min multipliers per 16 elements, and the float scales. Value of element i:
//   d * sc(i) * q[i] + dm * m[i / 16]    (per Q8_K bsum group of 16)
struct PackedK {
  uint8_t q[kQK_K];
  int16_t sc[8][16];
  int16_t m[16];
  float d;
  float dm;
  uint8_t pad[24];
};
static_assert(sizeof(PackedK) == 576);

// Bytes per packed 32-element block: Q4_0 keeps unsigned nibbles (its -8 offset is applied
// through the activation block sums), Q5_0/Q8_0 keep q and |q| for the sign trick.
static int64_t legacy_q_bytes(GemmKind k) {
  return k == GemmKind::kQ4_0 ? 32 : 64;
}

static float hsum_ps(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

static __m256i load256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

static void store256(void* p, __m256i v) {
  _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}

static __m256i unpack_nibbles(const uint8_t* q) {
  const __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m256i bytes = _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp);
  return _mm256_and_si256(bytes, _mm256_set1_epi8(0x0F));
}

static __m256i bits_to_bytes(const uint8_t* p) {
  uint32_t x32;
  std::memcpy(&x32, p, sizeof x32);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101,
                                         0x0000000000000000);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x32)), shuf);
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

// ---- packing -----------------------------------------------------------------------------

// Legacy row: nb blocks of [q x32] (Q4_0: unsigned nibbles) or [q int8 x32][|q| x32], then
// nb float scales.
static void pack_legacy_row(GemmKind k, const uint8_t* w, int64_t nb, uint8_t* out) {
  const int64_t qb = legacy_q_bytes(k);
  float* dout = reinterpret_cast<float*>(out + nb * qb);
  if (k == GemmKind::kQ4_0) {
    for (int64_t b = 0; b < nb; ++b) {
      const auto* blk = reinterpret_cast<const BlockQ4_0*>(w) + b;
      store256(out + 32 * b, unpack_nibbles(blk->qs));
      dout[b] = _cvtsh_ss(blk->d);
    }
    return;
  }
  for (int64_t b = 0; b < nb; ++b) {
    __m256i q;
    if (k == GemmKind::kQ5_0) {
      const auto* blk = reinterpret_cast<const BlockQ5_0*>(w) + b;
      const __m256i hi =
          _mm256_andnot_si256(bits_to_bytes(blk->qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
      q = _mm256_or_si256(unpack_nibbles(blk->qs), hi);
      dout[b] = _cvtsh_ss(blk->d);
    } else {
      const auto* blk = reinterpret_cast<const BlockQ8_0*>(w) + b;
      q = load256(blk->qs);
      dout[b] = _cvtsh_ss(blk->d);
    }
    store256(out + 64 * b, q);
    store256(out + 64 * b + 32, _mm256_sign_epi8(q, q));
  }
}

static void set_sc_pair(PackedK* p, int chunk, int16_t lo, int16_t hi) {
  store256(p->sc[chunk], _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo)));
}

static void pack_q4_k_or_q5_k(bool five, const uint8_t* w, int64_t nb, PackedK* out) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i one = _mm256_set1_epi8(1);
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* scales;
    const uint8_t* qs;
    const uint8_t* qh = nullptr;
    uint16_t dh, dminh;
    if (five) {
      const auto* a = reinterpret_cast<const BlockQ5_K*>(w) + i;
      scales = a->scales, qs = a->qs, qh = a->qh, dh = a->d, dminh = a->dmin;
    } else {
      const auto* a = reinterpret_cast<const BlockQ4_K*>(w) + i;
      scales = a->scales, qs = a->qs, dh = a->d, dminh = a->dmin;
    }
    PackedK* p = out + i;
    p->d = _cvtsh_ss(dh);
    p->dm = -_cvtsh_ss(dminh);
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; ++j) get_scale_min_k4(j, scales, &sc[j], &mn[j]);
    for (int j = 0; j < 8; ++j) {
      set_sc_pair(p, j, sc[j], sc[j]);
      p->m[2 * j] = p->m[2 * j + 1] = mn[j];
    }
    const __m256i hbits = five ? load256(qh) : _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i bits = load256(qs + 32 * j);
      __m256i lo = _mm256_and_si256(bits, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
      if (five) {
        lo = _mm256_or_si256(
            lo, _mm256_slli_epi16(
                    _mm256_and_si256(_mm256_srl_epi16(hbits, _mm_cvtsi32_si128(2 * j)), one), 4));
        hi = _mm256_or_si256(
            hi, _mm256_slli_epi16(
                    _mm256_and_si256(_mm256_srl_epi16(hbits, _mm_cvtsi32_si128(2 * j + 1)), one),
                    4));
      }
      store256(p->q + 64 * j, lo);
      store256(p->q + 64 * j + 32, hi);
    }
  }
}

static void pack_q6_k(const uint8_t* w, int64_t nb, PackedK* out) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m2 = _mm256_set1_epi8(3);
  for (int64_t i = 0; i < nb; ++i) {
    const auto* a = reinterpret_cast<const BlockQ6_K*>(w) + i;
    PackedK* p = out + i;
    p->d = _cvtsh_ss(a->d);
    p->dm = -p->d;
    for (int s = 0; s < 16; ++s) p->m[s] = static_cast<int16_t>(32 * a->scales[s]);
    for (int c = 0; c < 8; ++c) set_sc_pair(p, c, a->scales[2 * c], a->scales[2 * c + 1]);
    for (int j = 0; j < 2; ++j) {
      const __m256i hb = load256(a->qh + 32 * j);
      const __m256i lb1 = load256(a->ql + 64 * j);
      const __m256i lb2 = load256(a->ql + 64 * j + 32);
      uint8_t* q = p->q + 128 * j;
      store256(q, _mm256_or_si256(_mm256_and_si256(lb1, m4),
                                  _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4)));
      store256(q + 32,
               _mm256_or_si256(_mm256_and_si256(lb2, m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4)));
      store256(q + 64,
               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb1, 4), m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4)));
      store256(q + 96,
               _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb2, 4), m4),
                               _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4)));
    }
  }
}

// ---- micro-kernels -------------------------------------------------------------------------

// Legacy tile (Q5_0, Q8_0): RM packed rows x RN Q8_0 activation rows. The integer sums of 8
// consecutive blocks are reduced with hadd into one vector (lane = block) before a single
// convert + scale + fma, instead of one per block; xd holds the activation scales as floats.
static __m256i pair_dot(__m256i aq, __m256i q, __m256i xv) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(xv, q)),
                           _mm256_set1_epi16(1));
}

template <int RM, int RN>
void tile_legacy(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
                 const float* xd, float* y, int64_t ldy) {
  __m256 acc[RM][RN];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  const float* wd[RM];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) wd[r] = reinterpret_cast<const float*>(w + r * w_row + nb * 64);
  const BlockQ8_0* xb[RN];
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) xb[c] = reinterpret_cast<const BlockQ8_0*>(x + c * x_row);
  int64_t g = 0;
  for (; g + 8 <= nb; g += 8) {
    __m256i h4[2][RM][RN];
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      __m256i h2[2][RM][RN];
#pragma GCC unroll 2
      for (int pr = 0; pr < 2; ++pr) {
        const int64_t b = g + 4 * half + 2 * pr;
        __m256i x0[RN], x1[RN];
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) x0[c] = load256(xb[c][b].qs), x1[c] = load256(xb[c][b + 1].qs);
#pragma GCC unroll 8
        for (int r = 0; r < RM; ++r) {
          const uint8_t* wb = w + r * w_row + 64 * b;
          const __m256i q0 = load256(wb), a0 = load256(wb + 32);
          const __m256i q1 = load256(wb + 64), a1 = load256(wb + 96);
#pragma GCC unroll 8
          for (int c = 0; c < RN; ++c) {
            h2[pr][r][c] = _mm256_hadd_epi32(pair_dot(a0, q0, x0[c]), pair_dot(a1, q1, x1[c]));
          }
        }
      }
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) h4[half][r][c] = _mm256_hadd_epi32(h2[0][r][c], h2[1][r][c]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const __m256 dw = _mm256_loadu_ps(wd[r] + g);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m256i lo = _mm256_permute2x128_si256(h4[0][r][c], h4[1][r][c], 0x20);
        const __m256i hi = _mm256_permute2x128_si256(h4[0][r][c], h4[1][r][c], 0x31);
        const __m256 d = _mm256_mul_ps(dw, _mm256_loadu_ps(xd + c * nb + g));
        acc[r][c] =
            _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_add_epi32(lo, hi)), acc[r][c]);
      }
    }
  }
  for (; g < nb; ++g) {
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const uint8_t* wb = w + r * w_row + 64 * g;
      const __m256i q = load256(wb), aq = load256(wb + 32);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m256 d = _mm256_set1_ps(wd[r][g] * xd[c * nb + g]);
        acc[r][c] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(pair_dot(aq, q, load256(xb[c][g].qs))),
                                    acc[r][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]);
}

// Q4_0 tile: unsigned nibbles times Q8_0 activations; the -8 offset is added at the end as
// sum_b d_w[b] * cx[b] with cx[b] = -8 * d_x[b] * sum(x_q[b]) (gemm_prepare_x_avx2).
template <int RM, int RN>
void tile_q4_0(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row,
               const float* cx, float* y, int64_t ldy) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[RM][RN];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  const float* wd[RM];
#pragma GCC unroll 8
  for (int r = 0; r < RM; ++r) wd[r] = reinterpret_cast<const float*>(w + r * w_row + nb * 32);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i xv[RN];
    __m256 dx[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const auto* blk = reinterpret_cast<const BlockQ8_0*>(x + c * x_row) + b;
      xv[c] = load256(blk->qs);
      dx[c] = _mm256_set1_ps(_cvtsh_ss(blk->d));
    }
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      const __m256i q = load256(w + r * w_row + 32 * b);
      const __m256 dw = _mm256_broadcast_ss(wd[r] + b);
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q, xv[c]), ones);
        acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dx[c]), _mm256_cvtepi32_ps(p), acc[r][c]);
      }
    }
  }
  int64_t b = 0;
  for (; b + 8 <= nb; b += 8) {
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const __m256 cv = _mm256_loadu_ps(cx + c * nb + b);
#pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        acc[r][c] = _mm256_fmadd_ps(_mm256_loadu_ps(wd[r] + b), cv, acc[r][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c) {
#pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) {
      float tail = 0.0f;
      for (int64_t bb = b; bb < nb; ++bb) tail += wd[r][bb] * cx[c * nb + bb];
      y[c * ldy + r] = hsum_ps(acc[r][c]) + tail;
    }
  }
}

// K tile: RM packed rows x RN Q8_K activation rows.
template <int RM, int RN>
void tile_k(int64_t nb, const uint8_t* w, size_t w_row, const uint8_t* x, size_t x_row, float* y,
            int64_t ldy) {
  __m256 acc[RM][RN];
  #pragma GCC unroll 8
  for (int r = 0; r < RM; ++r)
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t i = 0; i < nb; ++i) {
    const BlockQ8_K* xb[RN];
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) xb[c] = reinterpret_cast<const BlockQ8_K*>(x + c * x_row) + i;
    const PackedK* pw[RM];
    #pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) pw[r] = reinterpret_cast<const PackedK*>(w + r * w_row) + i;
    __m256i sumi[RM][RN];
    #pragma GCC unroll 8
    for (int r = 0; r < RM; ++r)
      #pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) sumi[r][c] = _mm256_setzero_si256();
    #pragma GCC unroll 1
    for (int k = 0; k < 8; ++k) {
      __m256i xv[RN];
      #pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) xv[c] = load256(xb[c]->qs + 32 * k);
      #pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256i q = load256(pw[r]->q + 32 * k);
        const __m256i s = load256(pw[r]->sc[k]);
        #pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          sumi[r][c] = _mm256_add_epi32(
              sumi[r][c], _mm256_madd_epi16(s, _mm256_maddubs_epi16(q, xv[c])));
        }
      }
    }
    #pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      const __m256i bs = load256(xb[c]->bsums);
      const __m256 dx = _mm256_set1_ps(xb[c]->d);
      #pragma GCC unroll 8
      for (int r = 0; r < RM; ++r) {
        const __m256i corr = _mm256_madd_epi16(load256(pw[r]->m), bs);
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(pw[r]->d), dx);
        const __m256 dm = _mm256_mul_ps(_mm256_set1_ps(pw[r]->dm), dx);
        acc[r][c] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(sumi[r][c]), acc[r][c]);
        acc[r][c] = _mm256_fmadd_ps(dm, _mm256_cvtepi32_ps(corr), acc[r][c]);
      }
    }
  }
  #pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
    #pragma GCC unroll 8
    for (int r = 0; r < RM; ++r) y[c * ldy + r] = hsum_ps(acc[r][c]);
}

using TileFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*, int64_t);
using Q40TileFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, const float*,
                           float*, int64_t);

// Tile tables [rows-1][cols-1].
constexpr int kLegacyRM = 4, kLegacyRN = 2;
constexpr int kKRM = 2, kKRN = 4;
constexpr int kL8RM = 2, kL8RN = 4;

static Q40TileFn legacy_tile(int rm, int rn) {
  static const Q40TileFn table[kL8RM][kL8RN] = {
      {tile_legacy<1, 1>, tile_legacy<1, 2>, tile_legacy<1, 3>, tile_legacy<1, 4>},
      {tile_legacy<2, 1>, tile_legacy<2, 2>, tile_legacy<2, 3>, tile_legacy<2, 4>},
  };
  return table[rm - 1][rn - 1];
}

static Q40TileFn q4_0_tile(int rm, int rn) {
  static const Q40TileFn table[kLegacyRM][kLegacyRN] = {
      {tile_q4_0<1, 1>, tile_q4_0<1, 2>},
      {tile_q4_0<2, 1>, tile_q4_0<2, 2>},
      {tile_q4_0<3, 1>, tile_q4_0<3, 2>},
      {tile_q4_0<4, 1>, tile_q4_0<4, 2>},
  };
  return table[rm - 1][rn - 1];
}

static TileFn k_tile(int rm, int rn) {
  static const TileFn table[kKRM][kKRN] = {
      {tile_k<1, 1>, tile_k<1, 2>, tile_k<1, 3>, tile_k<1, 4>},
      {tile_k<2, 1>, tile_k<2, 2>, tile_k<2, 3>, tile_k<2, 4>},
  };
  return table[rm - 1][rn - 1];
}

static bool is_legacy(GemmKind k) {
  return k == GemmKind::kQ4_0 || k == GemmKind::kQ5_0 || k == GemmKind::kQ8_0;
}

}  // namespace

size_t gemm_packed_row_bytes(GemmKind k, int64_t n) {
  if (k == GemmKind::kNone) return 0;
  if (is_legacy(k)) return static_cast<size_t>(n / 32) * static_cast<size_t>(legacy_q_bytes(k) + 4);
  return static_cast<size_t>(n / kQK_K) * sizeof(PackedK);
}

int gemm_tile_rows(GemmKind k) {
  return k == GemmKind::kQ4_0 ? kLegacyRM : is_legacy(k) ? kL8RM : kKRM;
}

void gemm_pack_avx2(GemmKind k, const uint8_t* w, size_t w_row, int64_t nr, int64_t n,
                    uint8_t* dst) {
  const size_t out_row = gemm_packed_row_bytes(k, n);
  for (int64_t r = 0; r < nr; ++r) {
    const uint8_t* src = w + r * w_row;
    uint8_t* out = dst + r * out_row;
    switch (k) {
      case GemmKind::kQ4_0:
      case GemmKind::kQ5_0:
      case GemmKind::kQ8_0:
        pack_legacy_row(k, src, n / 32, out);
        break;
      case GemmKind::kQ4_K:
        pack_q4_k_or_q5_k(false, src, n / kQK_K, reinterpret_cast<PackedK*>(out));
        break;
      case GemmKind::kQ5_K:
        pack_q4_k_or_q5_k(true, src, n / kQK_K, reinterpret_cast<PackedK*>(out));
        break;
      case GemmKind::kQ6_K:
        pack_q6_k(src, n / kQK_K, reinterpret_cast<PackedK*>(out));
        break;
      case GemmKind::kNone:
        break;
    }
  }
}

size_t gemm_x_extra_floats(GemmKind k, int64_t n) {
  return is_legacy(k) ? static_cast<size_t>(n / 32) : 0;
}

void gemm_prepare_x_avx2(GemmKind k, int64_t n, const uint8_t* x, float* extra) {
  if (k == GemmKind::kQ5_0 || k == GemmKind::kQ8_0) {  // activation scales as floats
    for (int64_t b = 0; b < n / 32; ++b) {
      extra[b] = _cvtsh_ss(reinterpret_cast<const BlockQ8_0*>(x)[b].d);
    }
    return;
  }
  if (k != GemmKind::kQ4_0) return;
  const __m256i ones8 = _mm256_set1_epi8(1);
  const __m256i ones16 = _mm256_set1_epi16(1);
  const int64_t nb = n / 32;
  for (int64_t b = 0; b < nb; ++b) {
    const auto* blk = reinterpret_cast<const BlockQ8_0*>(x) + b;
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, load256(blk->qs)), ones16);
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 1));
    extra[b] = -8.0f * _cvtsh_ss(blk->d) * static_cast<float>(_mm_cvtsi128_si32(s4));
  }
}

void gemm_packed_avx2(GemmKind k, int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x,
                      size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const bool legacy = is_legacy(k);
  const size_t w_row = gemm_packed_row_bytes(k, n);
  const int64_t nb = legacy ? n / 32 : n / kQK_K;
  const int RM = k == GemmKind::kQ4_0 ? kLegacyRM : legacy ? kL8RM : kKRM;
  const int RN = k == GemmKind::kQ4_0 ? kLegacyRN : legacy ? kL8RN : kKRN;
  for (int64_t c0 = 0; c0 < nc; c0 += RN) {
    const int rn = static_cast<int>(nc - c0 < RN ? nc - c0 : RN);
    for (int64_t r0 = 0; r0 < nr; r0 += RM) {
      const int rm = static_cast<int>(nr - r0 < RM ? nr - r0 : RM);
      if (k == GemmKind::kQ4_0) {
        q4_0_tile(rm, rn)(nb, packed + r0 * w_row, w_row, x + c0 * x_row, x_row, x_extra + c0 * nb,
                          y + c0 * ldy + r0, ldy);
        continue;
      }
      if (legacy) {
        legacy_tile(rm, rn)(nb, packed + r0 * w_row, w_row, x + c0 * x_row, x_row,
                            x_extra + c0 * nb, y + c0 * ldy + r0, ldy);
        continue;
      }
      k_tile(rm, rn)(nb, packed + r0 * w_row, w_row, x + c0 * x_row, x_row, y + c0 * ldy + r0, ldy);
    }
  }
}

}  // namespace dkb::kernels::detail
