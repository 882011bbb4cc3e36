// The streaming-read probe at the AVX-512 level (kernels.h stream_sum): 64-byte loads into four
// accumulators with a prefetch 1 KiB ahead, the way the decode kernels read weights.
//
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vnni; reached only at the AVX-512 level.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels_internal.h"

namespace dkb::kernels::detail {

uint64_t stream_sum_avx512(const uint8_t* p, size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 1024), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 1088), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 1152), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(p + i + 1216), _MM_HINT_T0);
    a0 = _mm512_add_epi64(a0, _mm512_loadu_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_loadu_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_loadu_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_loadu_si512(p + i + 192));
  }
  // The 8 lanes through memory (GCC 12's _mm512_reduce_add_epi64 trips -Wuninitialized).
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3)));
  uint64_t s = 0;
  for (uint64_t v : lanes) s += v;
  for (; i < n; ++i) s += p[i];
  return s;
}

}  // namespace dkb::kernels::detail
