// The K-quant half of the AVX-512 VNNI GEMM (gemm_k_avx512.cpp), called by the dispatching
// functions of gemm_avx512.cpp (declared in kernels_internal.h) for Q4_K, Q5_K and Q6_K. Same
// contracts as those; only for the two *_avx512.cpp files (AVX-512 flags).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels_internal.h"

namespace dkb::kernels::detail {

// The lanes of row group grp (16 rows each) that hold one of the nr rows.
inline __mmask16 group_mask(int64_t nr, int64_t grp) {
  const int64_t left = nr - grp * 16;
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

size_t gemm_vnni_k_packed_bytes(GemmKind k, int64_t n, int64_t nr);
size_t gemm_vnni_k_x_extra_floats(GemmKind k, int64_t n);
void gemm_vnni_k_prepare_x(GemmKind k, int64_t n, const uint8_t* x, float* extra);
void gemm_vnni_k_pack(GemmKind k, const uint8_t* w, size_t w_row, int64_t nr, int64_t n,
                      uint8_t* dst);
void gemm_vnni_k_packed(GemmKind k, int64_t n, const uint8_t* packed, int64_t nr, const uint8_t* x,
                        size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy);

}  // namespace dkb::kernels::detail
