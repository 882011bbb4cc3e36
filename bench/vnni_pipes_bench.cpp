// Which operations share vpdpbusd's execution pipes on this core (bench/README.md, session 12):
// vpdpbusd per ns with 8 or 16 independent accumulators, with its broadcast embedded (from L1),
// and with 8 independent operations of one other kind beside every 16 vpdpbusd. An operation
// that runs on other pipes leaves the rate as it is; one that shares them lowers it (two
// operations per cycle in all). One thread; AVX-512 VNNI only (exits 2 elsewhere).
// Usage: vnni_pipes_bench
#include <immintrin.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace {

constexpr long kIters = 50'000'000;
alignas(64) int32_t g_bytes[64];

enum class Other { kNone, kMulps, kFmadd, kAddps, kCvtdq2ps, kPsrlw, kPandd, kPmulld, kPmaddwd };
const char* name(Other o) {
  constexpr const char* kNames[] = {"(none)",   "vmulps", "vfmadd231ps", "vaddps", "vcvtdq2ps",
                                    "vpsrlw",   "vpandd", "vpmulld",     "vpmaddwd"};
  return kNames[static_cast<int>(o)];
}

#define DKB_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni"), noinline))

// One vpdpbusd on accumulator a, its broadcast operand embedded (kEmbedded) or in a register.
#define VNNI(a, k)                                                                      \
  if constexpr (kEmbedded) {                                                            \
    __asm__ volatile("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(a) : "v"(w), "m"(g_bytes[k])); \
  } else {                                                                              \
    __asm__ volatile("vpdpbusd %1, %1, %0" : "+v"(a) : "v"(w));                         \
  }

// One operation of kind O on its own register f (float) or i (integer).
#define OTHER(f, i)                                                                          \
  if constexpr (O == Other::kMulps) __asm__ volatile("vmulps %1, %0, %0" : "+v"(f) : "v"(m)); \
  if constexpr (O == Other::kFmadd) __asm__ volatile("vfmadd231ps %1, %1, %0" : "+v"(f) : "v"(m)); \
  if constexpr (O == Other::kAddps) __asm__ volatile("vaddps %1, %0, %0" : "+v"(f) : "v"(m)); \
  if constexpr (O == Other::kCvtdq2ps) __asm__ volatile("vcvtdq2ps %1, %0" : "=v"(f) : "v"(i)); \
  if constexpr (O == Other::kPsrlw) __asm__ volatile("vpsrlw $4, %0, %0" : "+v"(i));          \
  if constexpr (O == Other::kPandd) __asm__ volatile("vpandd %1, %0, %0" : "+v"(i) : "v"(w)); \
  if constexpr (O == Other::kPmulld) __asm__ volatile("vpmulld %1, %0, %0" : "+v"(i) : "v"(w)); \
  if constexpr (O == Other::kPmaddwd) __asm__ volatile("vpmaddwd %1, %0, %0" : "+v"(i) : "v"(w));

// vpdpbusd per ns: 16 accumulators (or 8: kEight, half of them), plus 8 operations of kind O
// per 16 vpdpbusd.
template <bool kEmbedded, bool kEight, Other O>
DKB_VNNI_TARGET double rate() {
  __m512i a0 = _mm512_set1_epi32(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m512i a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
  const __m512i w = _mm512_set1_epi32(3);
  const __m512 m = _mm512_set1_ps(1.0000001f);
  __m512 f0 = _mm512_set1_ps(1.0f), f1 = f0, f2 = f0, f3 = f0, f4 = f0, f5 = f0, f6 = f0, f7 = f0;
  __m512i i0 = w, i1 = w, i2 = w, i3 = w, i4 = w, i5 = w, i6 = w, i7 = w;
  const auto t0 = std::chrono::steady_clock::now();
  for (long it = 0; it < kIters; ++it) {
    VNNI(a0, 0) VNNI(a1, 1) VNNI(a2, 2) VNNI(a3, 3) OTHER(f0, i0) OTHER(f1, i1)
    VNNI(a4, 4) VNNI(a5, 5) VNNI(a6, 6) VNNI(a7, 7) OTHER(f2, i2) OTHER(f3, i3)
    if constexpr (kEight) {
      VNNI(a0, 8) VNNI(a1, 9) VNNI(a2, 10) VNNI(a3, 11) OTHER(f4, i4) OTHER(f5, i5)
      VNNI(a4, 12) VNNI(a5, 13) VNNI(a6, 14) VNNI(a7, 15) OTHER(f6, i6) OTHER(f7, i7)
    } else {
      VNNI(a8, 8) VNNI(a9, 9) VNNI(a10, 10) VNNI(a11, 11) OTHER(f4, i4) OTHER(f5, i5)
      VNNI(a12, 12) VNNI(a13, 13) VNNI(a14, 14) VNNI(a15, 15) OTHER(f6, i6) OTHER(f7, i7)
    }
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  // Keep every register's result live.
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
  s = _mm512_add_epi32(s,
                       _mm512_add_epi32(_mm512_add_epi32(a12, a13), _mm512_add_epi32(a14, a15)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(i0, i1), _mm512_add_epi32(i2, i3)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(i4, i5), _mm512_add_epi32(i6, i7)));
  __m512 fs = _mm512_add_ps(_mm512_add_ps(f0, f1), _mm512_add_ps(f2, f3));
  fs = _mm512_add_ps(fs, _mm512_add_ps(_mm512_add_ps(f4, f5), _mm512_add_ps(f6, f7)));
  alignas(64) int32_t si[16];
  alignas(64) float sf[16];
  _mm512_store_si512(si, s);
  _mm512_store_ps(sf, fs);
  volatile int sink = si[0] + static_cast<int>(sf[0]);
  (void)sink;
  return 16.0 * static_cast<double>(kIters) / ns;
}

template <Other O>
void row() {
  std::printf("%-12s %6.2f vpdpbusd/ns beside 8 of them per 16\n", name(O), rate<false, false, O>());
}

}  // namespace

int main() {
  if (!__builtin_cpu_supports("avx512vnni")) {
    std::fprintf(stderr, "vnni_pipes_bench: this CPU has no AVX-512 VNNI\n");
    return 2;
  }
  std::printf("vpdpbusd alone: %.2f/ns (16 accumulators), %.2f/ns (8), %.2f/ns (16, the broadcast "
              "embedded)\n",
              rate<false, false, Other::kNone>(), rate<false, true, Other::kNone>(),
              rate<true, false, Other::kNone>());
  row<Other::kMulps>();
  row<Other::kFmadd>();
  row<Other::kPmulld>();
  row<Other::kPmaddwd>();
  row<Other::kAddps>();
  row<Other::kCvtdq2ps>();
  row<Other::kPsrlw>();
  row<Other::kPandd>();
  return 0;
}
