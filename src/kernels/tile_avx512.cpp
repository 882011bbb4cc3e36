// The unpack-on-the-fly tiles at the AVX-512 level: AVX-512 VNNI's vpdpbusd / vpdpwssd, on
// 256-bit registers (AVX-512 VL) with 32 of them, and on 512-bit ones for the K-quant batch
// tiles of tile_vnni_k.h; see tile_impl.h. Compiled with
// -mavx512f -mavx512bw -mavx512vl -mavx512vnni on top of the AVX2 flags, reached only when
// the CPU has them (dispatch.cpp).
// GCC 12's AVX-512 intrinsics read an uninitialized placeholder (_mm512_undefined_*, GCC bug
// 105593, fixed in 13) and warn at every inlined use; silenced for this file only, before the
// intrinsics headers are read.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "tile_vnni_k.h"

namespace dkb::kernels::detail {

void tile_avx512(GemmKind k, int64_t n, const uint8_t* w, size_t w_row, int64_t nr,
                 const uint8_t* x, size_t x_row, const float* x_extra, int64_t nc, float* y,
                 int64_t ldy) {
  if (nc > 1) {
    switch (k) {
      case GemmKind::kQ4_K:
        return tile_run_k_vnni<4>(n, w, w_row, nr, x, x_row, x_extra, nc, y, ldy);
      case GemmKind::kQ5_K:
        return tile_run_k_vnni<5>(n, w, w_row, nr, x, x_row, x_extra, nc, y, ldy);
      case GemmKind::kQ6_K:
        return tile_run_k_vnni<6>(n, w, w_row, nr, x, x_row, x_extra, nc, y, ldy);
      default:
        break;
    }
  }
  tile_run<true>(k, n, w, w_row, nr, x, x_row, x_extra, nc, y, ldy);
}

void tile_prepare_x_avx512(GemmKind k, int64_t n, int64_t nc, int64_t t, const uint8_t* x,
                           float* x_extra) {
  const size_t per_token = tile_extra_floats<true>(k, n, nc);
  if (uses_token_tiles<true>(k, nc)) {
    float* group = x_extra + (t - t % kGroupTokens) * static_cast<int64_t>(per_token);
    return prepare_legacy_tokens(k, n, nc, t, x, reinterpret_cast<uint8_t*>(group));
  }
  float* extra = x_extra + t * static_cast<int64_t>(per_token);
  auto* out = reinterpret_cast<uint8_t*>(extra);
  if (nc > 1 && k == GemmKind::kQ6_K) return prepare_q6_k_vnni(n, x, out);
  if (nc > 1 && (k == GemmKind::kQ4_K || k == GemmKind::kQ5_K))
    return prepare_q45_k_vnni(n, x, out);
  tile_prepare_legacy(k, n, x, extra);
}

}  // namespace dkb::kernels::detail
