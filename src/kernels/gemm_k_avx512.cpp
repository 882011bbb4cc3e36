// AVX-512 VNNI GEMM for the K-quants Q4_K, Q5_K and Q6_K (prefill): the layout and method of
// gemm_avx512.cpp (16 weight rows interleaved per 512-bit vpdpbusd, one int32 lane per row),
// per 256-element super-block:
// - each sub-block's integer sum (32 elements for Q4_K/Q5_K, 16 for Q6_K) in one accumulator
//   (Q6_K's starts at -32 * sum(x), its quants being stored as the unsigned q), times the rows'
//   integer sub-block scales (vpmulld), summed into the super-block's isum;
// - Q4_K/Q5_K: the mins term summs = sum_j m_j * (x's 32-element sum j) by vpdpwssd on int16
//   pairs (mins of sub-blocks 2p, 2p+1 against the token's sums 2p, 2p+1);
// - then the scalar reference's float operations in its order: Q4_K/Q5_K
//   sum += (dw * dx) * isum - (dminw * dx) * summs, Q6_K sum += (dw * dx) * isum.
// So the results are bit-identical to vec_dot_q{4,5,6}_k_scalar and the level's tiles (the AVX-512
// level's block order, kernels_internal.h) (exact integers: |isum| stays
// below 2^28 for these ranges).
//
// Packed group of 16 rows, per super-block: 64 steps x 64 bytes of quants (step s: the 16 rows'
// elements 4s..4s+3), the sub-block scales as 16 int32 per sub-block, then for Q4_K/Q5_K the
// mins as 4 x 16 int32 (sub-block 2p in the low 16 bits, 2p+1 in the high), then the 16 rows'
// d and (Q4_K/Q5_K) dmin as floats. Extra floats per token and super-block: dx, then Q4_K/Q5_K
// the 4 int32 pairs of 32-element sums (int16 each), Q6_K the 16 int32 terms -32 * bsum.
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "gemm_vnni.h"
#include "kernels/blocks.h"
#include "kernels_internal.h"

// See gemm_avx512.cpp: GCC 12's _mm512_cvtepi32_ps trips -Wmaybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dkb::kernels::detail {
namespace {

constexpr int kRows = kVnniGroupRows;
constexpr int64_t kQuantBytes = 64 * 64;

template <bool kQ6>
struct Layout {
  static constexpr int kSubs = kQ6 ? 16 : 8;       // sub-blocks per super-block
  static constexpr int kSteps = 64 / kSubs;        // 4-element steps per sub-block
  static constexpr int64_t kScales = kQuantBytes;  // int32 scales, 64 bytes per sub-block
  static constexpr int64_t kMins = kScales + kSubs * 64;
  static constexpr int64_t kD = kMins + (kQ6 ? 0 : 4 * 64);
  static constexpr int64_t kDmin = kD + 64;
  static constexpr int64_t kBytes = kD + (kQ6 ? 64 : 128);
  static constexpr int64_t kExtra = kQ6 ? 17 : 5;  // floats per token and super-block
};

inline void store_i32(void* p, int32_t v) {
  std::memcpy(p, &v, sizeof v);
}

// One super-block of a weight row as unsigned quants u[256] in element order, the integer
// sub-block scales and (Q4_K/Q5_K) mins, and the float d / dmin.
struct Unpacked {
  uint8_t u[kQK_K];
  int32_t sc[16];
  int32_t m[8];
  float d, dmin;
};

// (A template, not a runtime flag: GCC turned a qh read guarded by the flag into a masked load
// from the null qh of Q4_K, whose fault suppression made packing ~8x slower.)
template <bool kFive>
void unpack_q45_k(const uint8_t* row, int64_t i, Unpacked& out) {
  using Block = std::conditional_t<kFive, BlockQ5_K, BlockQ4_K>;
  const Block& b = reinterpret_cast<const Block*>(row)[i];
  const uint8_t* scales = b.scales;
  const uint8_t* q4 = b.qs;
  const uint16_t d = b.d, dmin = b.dmin;
  for (int j = 0; j < 4; ++j) {
    for (int l = 0; l < 32; ++l) {
      int lo = q4[32 * j + l] & 0xF, hi = q4[32 * j + l] >> 4;
      if constexpr (kFive) {
        lo |= ((b.qh[l] >> (2 * j)) & 1) << 4;
        hi |= ((b.qh[l] >> (2 * j + 1)) & 1) << 4;
      }
      out.u[64 * j + l] = static_cast<uint8_t>(lo);
      out.u[64 * j + 32 + l] = static_cast<uint8_t>(hi);
    }
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    get_scale_min_k4(j, scales, &s, &m);
    out.sc[j] = s;
    out.m[j] = m;
  }
  out.d = _cvtsh_ss(d);
  out.dmin = _cvtsh_ss(dmin);
}

void unpack_q6_k(const uint8_t* row, int64_t i, Unpacked& out) {
  const auto& b = reinterpret_cast<const BlockQ6_K*>(row)[i];
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    uint8_t* u = out.u + 128 * h;
    for (int l = 0; l < 32; ++l) {
      u[l] = static_cast<uint8_t>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
      u[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
      u[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      u[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
    }
  }
  for (int j = 0; j < 16; ++j) out.sc[j] = b.scales[j];
  out.d = _cvtsh_ss(b.d);
  out.dmin = 0.0f;
}

template <bool kQ6>
void pack(GemmKind k, const uint8_t* w, size_t w_row, int64_t nr, int64_t n, uint8_t* dst) {
  using L = Layout<kQ6>;
  const int64_t nsb = n / kQK_K;
  const int64_t groups = (nr + kRows - 1) / kRows;
  Unpacked up;
  // Row by row, so that each weight row is read front to back (the hardware prefetcher follows
  // one stream; 16 rows read super-block by super-block measured latency-bound).
  for (int64_t g = 0; g < groups; ++g) {
    for (int r = 0; r < kRows; ++r) {
      const int64_t row = g * kRows + r;
      for (int64_t i = 0; i < nsb; ++i) {
        uint8_t* bd = dst + (g * nsb + i) * L::kBytes;
        if (row < nr) {
          if constexpr (kQ6) {
            unpack_q6_k(w + row * w_row, i, up);
          } else if (k == GemmKind::kQ5_K) {
            unpack_q45_k<true>(w + row * w_row, i, up);
          } else {
            unpack_q45_k<false>(w + row * w_row, i, up);
          }
        } else {
          std::memset(&up, 0, sizeof up);
        }
        for (int s = 0; s < 64; ++s) std::memcpy(bd + s * 64 + r * 4, up.u + 4 * s, 4);
        for (int j = 0; j < L::kSubs; ++j) store_i32(bd + L::kScales + j * 64 + r * 4, up.sc[j]);
        if constexpr (!kQ6) {
          for (int p = 0; p < 4; ++p) {
            store_i32(bd + L::kMins + p * 64 + r * 4, up.m[2 * p] | (up.m[2 * p + 1] << 16));
          }
          std::memcpy(bd + L::kDmin + r * 4, &up.dmin, 4);
        }
        std::memcpy(bd + L::kD + r * 4, &up.d, 4);
      }
    }
  }
}

// RV groups x RN tokens; arguments as gemm_avx512.cpp's kernel, with Q8_K activation rows.
template <bool kQ6, int RV, int RN>
void kernel(int64_t nsb, const uint8_t* g, size_t group_bytes, const uint8_t* x, size_t x_row,
            const float* ex, float* y, int64_t ldy, const __mmask16* mask) {
  using L = Layout<kQ6>;
  const int64_t exs = nsb * L::kExtra;
  __m512 acc[RV][RN];
#pragma GCC unroll 4
  for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) acc[v][c] = _mm512_setzero_ps();
  for (int64_t i = 0; i < nsb; ++i) {
    const uint8_t* gb = g + i * L::kBytes;
    const uint8_t* xq[RN];
    const float* e[RN];
#pragma GCC unroll 8
    for (int c = 0; c < RN; ++c) {
      xq[c] = x + c * x_row + i * static_cast<int64_t>(sizeof(BlockQ8_K)) + 4;  // its qs
      e[c] = ex + c * exs + i * L::kExtra;
    }
    __m512i isum[RV][RN];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) isum[v][c] = _mm512_setzero_si512();
    for (int j = 0; j < L::kSubs; ++j) {
      __m512i s[RV][RN];
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m512i init =
            kQ6 ? _mm512_set1_epi32(load_i32(e[c] + 1 + j)) : _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) s[v][c] = init;
      }
#pragma GCC unroll 8
      for (int st = 0; st < L::kSteps; ++st) {
        const int k4 = j * L::kSteps + st;
        __m512i w[RV];
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) w[v] = _mm512_loadu_si512(gb + v * group_bytes + k4 * 64);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          const __m512i xv = _mm512_set1_epi32(load_i32(xq[c] + 4 * k4));
#pragma GCC unroll 4
          for (int v = 0; v < RV; ++v) s[v][c] = _mm512_dpbusd_epi32(s[v][c], w[v], xv);
        }
      }
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) {
        const __m512i sc = _mm512_loadu_si512(gb + v * group_bytes + L::kScales + j * 64);
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) {
          isum[v][c] = _mm512_add_epi32(isum[v][c], _mm512_mullo_epi32(s[v][c], sc));
        }
      }
    }
    if constexpr (kQ6) {
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m512 dx = _mm512_set1_ps(e[c][0]);
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) {
          const __m512 dw =
              _mm512_loadu_ps(reinterpret_cast<const float*>(gb + v * group_bytes + L::kD));
          acc[v][c] = _mm512_add_ps(
              acc[v][c], _mm512_mul_ps(_mm512_mul_ps(dw, dx), _mm512_cvtepi32_ps(isum[v][c])));
        }
      }
    } else {
      __m512i summs[RV][RN];
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v)
#pragma GCC unroll 8
        for (int c = 0; c < RN; ++c) summs[v][c] = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int p = 0; p < 4; ++p) {
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) {
          const __m512i m = _mm512_loadu_si512(gb + v * group_bytes + L::kMins + p * 64);
#pragma GCC unroll 8
          for (int c = 0; c < RN; ++c) {
            summs[v][c] =
                _mm512_dpwssd_epi32(summs[v][c], m, _mm512_set1_epi32(load_i32(e[c] + 1 + p)));
          }
        }
      }
#pragma GCC unroll 8
      for (int c = 0; c < RN; ++c) {
        const __m512 dx = _mm512_set1_ps(e[c][0]);
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) {
          const auto* gf = reinterpret_cast<const float*>(gb + v * group_bytes);
          const __m512 d = _mm512_mul_ps(_mm512_loadu_ps(gf + L::kD / 4), dx);
          const __m512 dm = _mm512_mul_ps(_mm512_loadu_ps(gf + L::kDmin / 4), dx);
          const __m512 t = _mm512_sub_ps(_mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[v][c])),
                                         _mm512_mul_ps(dm, _mm512_cvtepi32_ps(summs[v][c])));
          acc[v][c] = _mm512_add_ps(acc[v][c], t);
        }
      }
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < RN; ++c)
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) _mm512_mask_storeu_ps(y + c * ldy + v * kRows, mask[v], acc[v][c]);
}

// 2 groups x 4 tokens (8 accumulators of each kind), chunks of 24 tokens.
template <bool kQ6>
struct KKernels : VnniPanel {
  static constexpr int kTokens = 4, kGroups = 2;
  static constexpr int64_t kChunk = 6 * kTokens;
  template <int RV, int RN>
  void call(const uint8_t* g, const uint8_t* x, const float* ex, float* y,
            const __mmask16* mask) const {
    kernel<kQ6, RV, RN>(nb, g, group_bytes, x, x_row, ex, y, ldy, mask);
  }
};

template <bool kQ6>
void packed_run(int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x, size_t x_row,
                const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  const int64_t nsb = n / kQK_K;
  const KKernels<kQ6> k{
      {nsb, static_cast<size_t>(nsb * Layout<kQ6>::kBytes), x_row, nsb * Layout<kQ6>::kExtra, ldy}};
  run_packed(k, packed, nr, x, x_extra, nc, y);
}

}  // namespace

size_t gemm_vnni_k_packed_bytes(GemmKind k, int64_t n, int64_t nr) {
  const int64_t groups = (nr + kRows - 1) / kRows;
  const int64_t per = k == GemmKind::kQ6_K ? Layout<true>::kBytes : Layout<false>::kBytes;
  return static_cast<size_t>(groups * (n / kQK_K) * per);
}

size_t gemm_vnni_k_x_extra_floats(GemmKind k, int64_t n) {
  return static_cast<size_t>((n / kQK_K) *
                             (k == GemmKind::kQ6_K ? Layout<true>::kExtra : Layout<false>::kExtra));
}

void gemm_vnni_k_prepare_x(GemmKind k, int64_t n, const uint8_t* x, float* extra) {
  const auto* xb = reinterpret_cast<const BlockQ8_K*>(x);
  const bool q6 = k == GemmKind::kQ6_K;
  const int64_t per = q6 ? Layout<true>::kExtra : Layout<false>::kExtra;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    float* e = extra + i * per;
    e[0] = xb[i].d;
    if (q6) {
      for (int j = 0; j < 16; ++j) store_i32(e + 1 + j, -32 * xb[i].bsums[j]);
    } else {
      for (int p = 0; p < 4; ++p) {
        const int32_t s0 = xb[i].bsums[4 * p] + xb[i].bsums[4 * p + 1];
        const int32_t s1 = xb[i].bsums[4 * p + 2] + xb[i].bsums[4 * p + 3];
        store_i32(e + 1 + p, static_cast<int32_t>((static_cast<uint32_t>(s0) & 0xFFFF) |
                                                  (static_cast<uint32_t>(s1) << 16)));
      }
    }
  }
}

void gemm_vnni_k_pack(GemmKind k, const uint8_t* w, size_t w_row, int64_t nr, int64_t n,
                      uint8_t* dst) {
  if (k == GemmKind::kQ6_K) {
    pack<true>(k, w, w_row, nr, n, dst);
  } else {
    pack<false>(k, w, w_row, nr, n, dst);
  }
}

void gemm_vnni_k_packed(GemmKind k, int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x,
                        size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  if (k == GemmKind::kQ6_K) {
    packed_run<true>(n, packed, nr, x, x_row, x_extra, nc, y, ldy);
  } else {
    packed_run<false>(n, packed, nr, x, x_row, x_extra, nc, y, ldy);
  }
}

}  // namespace dkb::kernels::detail
