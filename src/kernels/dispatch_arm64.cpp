// The aarch64 SIMD levels: CPU detection (Linux auxiliary vector) and the NEON kernels of each
// type. Compiled for baseline ARMv8-A, where NEON (ASIMD) is mandatory; the dotprod kernels
// (vec_dot_dotprod.cpp) are reached only when the kernel reports HWCAP_ASIMDDP. Empty on other
// architectures.
#if defined(__aarch64__)

#include <sys/auxv.h>

#include "kernels/kernels.h"
#include "kernels_internal.h"

#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif

namespace dkb::kernels::detail {
namespace {

bool hwcap(unsigned long bit) {
  return (getauxval(AT_HWCAP) & bit) != 0;
}

}  // namespace

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::kNeon:
      return hwcap(HWCAP_ASIMD);
    case Isa::kNeonDot:
      return hwcap(HWCAP_ASIMD) && hwcap(HWCAP_ASIMDDP);
    default:
      return false;
  }
}

VecDotFn simd_vec_dot(TensorType t, Isa isa) {
  if (isa == Isa::kNeonDot) {
    const VecDotFn dot = vec_dot_dotprod(t);
    return dot != nullptr ? dot : vec_dot_neon(t);
  }
  return isa == Isa::kNeon ? vec_dot_neon(t) : nullptr;
}

QuantizeFn simd_quantize(TensorType t, Isa isa) {
  if (isa != Isa::kNeon && isa != Isa::kNeonDot) return nullptr;
  if (t == TensorType::kQ8_0) return quantize_q8_0_neon;
  if (t == TensorType::kQ8_K) return quantize_q8_k_neon;
  return nullptr;
}

DequantizeFn simd_dequantize(TensorType, Isa) {
  return nullptr;
}

HeadRowFns simd_head_rows(TensorType, Isa) {
  return {};
}

AxpyFn simd_axpy(Isa isa) {
  return isa == Isa::kNeon || isa == Isa::kNeonDot ? axpy_f32_neon : nullptr;
}

SwigluFn simd_swiglu(Isa isa) {
  return isa == Isa::kNeon || isa == Isa::kNeonDot ? swiglu_f32_neon : nullptr;
}

AttentionRowFns simd_attention_rows(Isa) {
  return {};  // attention.cpp loops over the NEON dot product and axpy
}

SoftmaxFn simd_softmax(Isa) {
  return nullptr;  // std::exp (softmax's scalar loop)
}

}  // namespace dkb::kernels::detail

#endif  // __aarch64__
