// The unpack-on-the-fly tiles at the AVX2 level (maddubs + madd); see tile_impl.h.
#include "tile_impl.h"

namespace dkb::kernels::detail {

void tile_avx2(GemmKind k, int64_t n, const uint8_t* w, size_t w_row, int64_t nr, const uint8_t* x,
               size_t x_row, const float* x_extra, int64_t nc, float* y, int64_t ldy) {
  tile_run<false>(k, n, w, w_row, nr, x, x_row, x_extra, nc, y, ldy);
}

size_t tile_x_extra_floats(GemmKind k, int64_t n, int64_t nc, bool vnni) {
  return vnni ? tile_extra_floats<true>(k, n, nc) : tile_extra_floats<false>(k, n, nc);
}

void tile_prepare_x_avx2(GemmKind k, int64_t n, int64_t nc, int64_t t, const uint8_t* x,
                         float* x_extra) {
  tile_prepare_legacy(k, n, x,
                      x_extra + t * static_cast<int64_t>(tile_extra_floats<false>(k, n, nc)));
}

}  // namespace dkb::kernels::detail
