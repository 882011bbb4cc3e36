// The x86-64 SIMD levels: CPU detection and the AVX2 kernels of each type (the AVX-512 level
// runs the AVX2 row kernels; its tiles are chosen in matmul.cpp). Compiled for baseline x86-64;
// empty on other architectures.
#if defined(__x86_64__)

#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512vnni");
}

bool is_x86_level(Isa isa) {
  return isa == Isa::kAvx2 || isa == Isa::kAvx512;
}

}  // namespace

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::kAvx2:
      return cpu_has_avx2();
    case Isa::kAvx512:
      return cpu_has_avx512();
    default:
      return false;
  }
}

VecDotFn simd_vec_dot(TensorType t, Isa isa) {
  if (!is_x86_level(isa)) return nullptr;
  using T = TensorType;
  // The AVX-512 level's block order for Q4_0, Q5_0 and the K-quants, as its tiles and GEMMs
  // compute them (kernels_internal.h); matmul never calls these row by row at that level.
  if (isa == Isa::kAvx512) {
    if (t == T::kQ4_0) return vec_dot_q4_0_blocks;
    if (t == T::kQ5_0) return vec_dot_q5_0_scalar;
    if (t == T::kQ4_K) return vec_dot_q4_k_scalar;
    if (t == T::kQ5_K) return vec_dot_q5_k_scalar;
    if (t == T::kQ6_K) return vec_dot_q6_k_scalar;
  }
  switch (t) {
    case T::kF32:
      return vec_dot_f32_avx2;
    case T::kF16:
      return vec_dot_f16_avx2;
    case T::kBF16:
      return vec_dot_bf16_avx2;
    case T::kQ4_0:
      return vec_dot_q4_0_avx2;
    case T::kQ4_1:
      return vec_dot_q4_1_avx2;
    case T::kQ5_0:
      return vec_dot_q5_0_avx2;
    case T::kQ5_1:
      return vec_dot_q5_1_avx2;
    case T::kQ8_0:
      return vec_dot_q8_0_avx2;
    case T::kQ2_K:
      return vec_dot_q2_k_avx2;
    case T::kQ3_K:
      return vec_dot_q3_k_avx2;
    case T::kQ4_K:
      return vec_dot_q4_k_avx2;
    case T::kQ5_K:
      return vec_dot_q5_k_avx2;
    case T::kQ6_K:
      return vec_dot_q6_k_avx2;
    default:
      return nullptr;
  }
}

QuantizeFn simd_quantize(TensorType t, Isa isa) {
  if (!is_x86_level(isa)) return nullptr;
  if (t == TensorType::kQ8_0) return quantize_q8_0_avx2;
  if (t == TensorType::kQ8_K) return quantize_q8_k_avx2;
  if (t == TensorType::kF16) return quantize_f16_avx2;
  return nullptr;
}

DequantizeFn simd_dequantize(TensorType t, Isa isa) {
  if (!is_x86_level(isa)) return nullptr;
  switch (t) {
    case TensorType::kF16:
      return dequantize_f16_avx2;
    case TensorType::kBF16:
      return dequantize_bf16_avx2;
    case TensorType::kQ4_0:
      return dequantize_q4_0_avx2;
    case TensorType::kQ8_0:
      return dequantize_q8_0_avx2;
    case TensorType::kQ4_K:
      return dequantize_q4_k_avx2;
    case TensorType::kQ6_K:
      return dequantize_q6_k_avx2;
    default:
      return nullptr;
  }
}

HeadRowFns simd_head_rows(TensorType t, Isa isa) {
  if (isa != Isa::kAvx512) return {};
  if (t == TensorType::kQ4_0) return {head_xw_q4_0_avx512, head_wx_q4_0_avx512};
  if (t == TensorType::kQ8_0) return {head_xw_q8_0_avx512, head_wx_q8_0_avx512};
  if (t == TensorType::kQ4_K) return {head_xw_q4_k_avx512, head_wx_q4_k_avx512};
  return {};
}

AxpyFn simd_axpy(Isa isa) {
  return is_x86_level(isa) ? axpy_f32_avx2 : nullptr;
}

SwigluFn simd_swiglu(Isa isa) {
  if (isa == Isa::kAvx512) return swiglu_f32_avx512;
  return isa == Isa::kAvx2 ? swiglu_f32_avx2 : nullptr;
}

SoftmaxFn simd_softmax(Isa isa) {
  if (isa == Isa::kAvx512) return softmax_f32_avx512;
  return isa == Isa::kAvx2 ? softmax_f32_avx2 : nullptr;
}

AttentionRowFns simd_attention_rows(Isa isa) {
  if (!is_x86_level(isa)) return {};
  if (isa == Isa::kAvx512) {
    return {dot_rows_f32_avx512, nullptr, weighted_heads_f32_avx512, dot_rows_f16_avx512,
            weighted_heads_f16_avx512};
  }
  return {dot_rows_f32_avx2, weighted_rows_f32_avx2};
}

}  // namespace dkb::kernels::detail

#endif  // __x86_64__
