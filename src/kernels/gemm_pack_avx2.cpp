// Packing for the AVX2 GEMM (gemm_avx2.cpp): unpacks quantized weight rows once per panel into
// the plain int8/uint8 formats of gemm_packed.h, and prepares the per-activation-row extras
// (the Q8_0 activation scales as floats). Same file rules as vec_dot_avx2.cpp.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_packed.h"
#include "kernels/blocks.h"
#include "avx2_util.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

static int64_t legacy_q_bytes(GemmKind k) {
  return k == GemmKind::kQ4_0 ? kPackedQ4_0Block : kPackedQ8Block;
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
    p->dm = 0.0f;  // the -32 offset is applied inside the integer sums (tile_k)
    for (int s = 0; s < 16; ++s) p->m[s] = 0;
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

static bool is_legacy(GemmKind k) {
  return k == GemmKind::kQ4_0 || k == GemmKind::kQ5_0 || k == GemmKind::kQ8_0;
}

}  // namespace

size_t gemm_packed_row_bytes(GemmKind k, int64_t n) {
  if (k == GemmKind::kNone) return 0;
  if (is_legacy(k)) return static_cast<size_t>(n / 32) * static_cast<size_t>(legacy_q_bytes(k) + 4);
  return static_cast<size_t>(n / kQK_K) * sizeof(PackedK);
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
  if (!is_legacy(k)) return;
  for (int64_t b = 0; b < n / 32; ++b) {  // activation scales as floats (exact)
    extra[b] = _cvtsh_ss(reinterpret_cast<const BlockQ8_0*>(x)[b].d);
  }
}

}  // namespace dkb::kernels::detail
