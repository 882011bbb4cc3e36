// Packed weight formats of the AVX2 GEMM, shared by gemm_pack_avx2.cpp (which writes them)
// and gemm_avx2.cpp (which reads them). Only types and constants: no inline functions (see
// kernels_internal.h on why AVX2 translation units share none with baseline code).
#pragma once

#include <cstdint>

#include "kernels/blocks.h"

namespace dkb::kernels::detail {

// Packed K-quant super-block: 256 unsigned quants (< 64), per-32 int16 scale vectors laid out as
// madd expects (low 128-bit lane: scale of elements 0..15 of the chunk, high lane: 16..31),
// int16 min multipliers per 16 elements (Q4_K/Q5_K: each 6-bit min twice; Q6_K: 0, its -32
// offset is applied in the micro-kernel's integer sums), and the float scales (dm = -dmin).
// Value of element i: d * sc(i) * (q[i] - 32 * Q6_K) + dm * m[i / 16].
struct PackedK {
  uint8_t q[kQK_K];
  int16_t sc[8][16];
  int16_t m[16];
  float d;
  float dm;
  uint8_t pad[24];
};
static_assert(sizeof(PackedK) == 576);

// Bytes per packed 32-element block of the legacy types, before the per-row float scales:
// Q4_0 keeps unsigned nibbles (the micro-kernel subtracts 8 * x in its int16 pair sums), Q5_0
// and Q8_0 keep q and |q| for the sign trick.
inline constexpr int64_t kPackedQ4_0Block = 32;
inline constexpr int64_t kPackedQ8Block = 64;

}  // namespace dkb::kernels::detail
