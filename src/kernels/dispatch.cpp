// Per-type function tables and runtime ISA dispatch (DKB_FORCE_SCALAR=1 forces scalar code,
// DKB_FORCE_AVX2=1 caps the level at AVX2, DKB_FORCE_NEON=1 at NEON without dotprod). The SIMD
// kernels of each architecture are looked up in dispatch_x86.cpp / dispatch_arm64.cpp.
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "base/status.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels {
namespace {

using namespace detail;

struct TypeOps {
  DequantizeFn dequantize = nullptr;
  QuantizeFn quantize = nullptr;
  VecDotFn dot_scalar = nullptr;
  TensorType dot_type = TensorType::kF32;
  bool weight = false;  // supported as a matmul weight
};

TypeOps ops_for(TensorType t) {
  using T = TensorType;
  switch (t) {
    case T::kF32:
      return {dequantize_f32, quantize_f32, vec_dot_f32_scalar, T::kF32, true};
    case T::kF16:
      return {dequantize_f16, quantize_f16, vec_dot_f16_scalar, T::kF16, true};
    case T::kBF16:
      return {dequantize_bf16, quantize_bf16, vec_dot_bf16_scalar, T::kBF16, true};
    case T::kQ4_0:
      return {dequantize_q4_0, quantize_q4_0, vec_dot_q4_0_scalar, T::kQ8_0, true};
    case T::kQ4_1:
      return {dequantize_q4_1, quantize_q4_1, vec_dot_q4_1_scalar, T::kQ8_1, true};
    case T::kQ5_0:
      return {dequantize_q5_0, quantize_q5_0, vec_dot_q5_0_scalar, T::kQ8_0, true};
    case T::kQ5_1:
      return {dequantize_q5_1, quantize_q5_1, vec_dot_q5_1_scalar, T::kQ8_1, true};
    case T::kQ8_0:
      return {dequantize_q8_0, quantize_q8_0, vec_dot_q8_0_scalar, T::kQ8_0, true};
    case T::kQ8_1:
      return {dequantize_q8_1, quantize_q8_1, nullptr, T::kQ8_1, false};
    case T::kQ2_K:
      return {dequantize_q2_k, quantize_q2_k, vec_dot_q2_k_scalar, T::kQ8_K, true};
    case T::kQ3_K:
      return {dequantize_q3_k, quantize_q3_k, vec_dot_q3_k_scalar, T::kQ8_K, true};
    case T::kQ4_K:
      return {dequantize_q4_k, quantize_q4_k, vec_dot_q4_k_scalar, T::kQ8_K, true};
    case T::kQ5_K:
      return {dequantize_q5_k, quantize_q5_k, vec_dot_q5_k_scalar, T::kQ8_K, true};
    case T::kQ6_K:
      return {dequantize_q6_k, quantize_q6_k, vec_dot_q6_k_scalar, T::kQ8_K, true};
    case T::kQ8_K:
      return {dequantize_q8_k, quantize_q8_k, nullptr, T::kQ8_K, false};
    default:
      return {};
  }
}

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "") != 0 && std::strcmp(v, "0") != 0;
}

// The highest level the CPU runs, after the environment's caps.
Isa initial_isa() {
  if (env_flag("DKB_FORCE_SCALAR")) return Isa::kScalar;
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kNeonDot, Isa::kNeon}) {
    if (isa == Isa::kAvx512 && env_flag("DKB_FORCE_AVX2")) continue;
    if (isa == Isa::kNeonDot && env_flag("DKB_FORCE_NEON")) continue;
    if (cpu_supports(isa)) return isa;
  }
  return Isa::kScalar;
}

std::atomic<Isa>& isa_state() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

}  // namespace

bool isa_available(Isa isa) {
  return isa == Isa::kScalar || cpu_supports(isa);
}

Isa active_isa() {
  return isa_state().load(std::memory_order_relaxed);
}

void set_active_isa(Isa isa) {
  DKB_CHECK(isa_available(isa));
  isa_state().store(isa, std::memory_order_relaxed);
}

bool is_supported_weight_type(TensorType t) {
  return ops_for(t).weight;
}

TensorType vec_dot_type(TensorType weight_type) {
  const TypeOps ops = ops_for(weight_type);
  DKB_CHECK(ops.weight);
  return ops.dot_type;
}

void dequantize_row(TensorType t, const void* src, float* dst, int64_t n) {
  const TypeOps ops = ops_for(t);
  DKB_CHECK(ops.dequantize != nullptr);
  const DequantizeFn simd = simd_dequantize(t, active_isa());
  (simd != nullptr ? simd : ops.dequantize)(src, dst, n);
}

bool can_quantize(TensorType t) {
  return ops_for(t).quantize != nullptr;
}

void quantize_row(TensorType t, const float* src, void* dst, int64_t n) {
  const TypeOps ops = ops_for(t);
  DKB_CHECK(ops.quantize != nullptr);
  // The activation formats and F16 (the f16 KV cache) have bit-identical SIMD versions.
  const QuantizeFn simd = simd_quantize(t, active_isa());
  (simd != nullptr ? simd : ops.quantize)(src, dst, n);
}

VecDotKernel vec_dot_kernel(TensorType t, Isa isa) {
  const TypeOps ops = ops_for(t);
  DKB_CHECK(ops.dot_scalar != nullptr);
  if (isa == Isa::kScalar) return ops.dot_scalar;
  const VecDotFn simd = simd_vec_dot(t, isa);
  DKB_CHECK(simd != nullptr);
  return simd;
}

float vec_dot_with(Isa isa, TensorType t, int64_t n, const void* w_row, const void* x_row) {
  DKB_CHECK(isa_available(isa));
  return vec_dot_kernel(t, isa)(n, w_row, x_row);
}

float vec_dot(TensorType t, int64_t n, const void* w_row, const void* x_row) {
  return vec_dot_kernel(t, active_isa())(n, w_row, x_row);
}

#if !defined(__x86_64__) && !defined(__aarch64__)
// An architecture without SIMD kernels: only the scalar level.
namespace detail {
bool cpu_supports(Isa) {
  return false;
}
VecDotFn simd_vec_dot(TensorType, Isa) {
  return nullptr;
}
QuantizeFn simd_quantize(TensorType, Isa) {
  return nullptr;
}
DequantizeFn simd_dequantize(TensorType, Isa) {
  return nullptr;
}
HeadRowFns simd_head_rows(TensorType, Isa) {
  return {};
}
AxpyFn simd_axpy(Isa) {
  return nullptr;
}
SwigluFn simd_swiglu(Isa) {
  return nullptr;
}
SoftmaxFn simd_softmax(Isa) {
  return nullptr;
}
AttentionRowFns simd_attention_rows(Isa) {
  return {};
}
}  // namespace detail
#endif

uint64_t stream_sum(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
#if defined(__x86_64__)
  if (active_isa() == Isa::kAvx512) return detail::stream_sum_avx512(b, n);
#endif
  // Four independent 64-bit sums (the compiler vectorizes them at the baseline level).
  uint64_t s[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, b + i + 8 * k, sizeof w);
      s[k] += w;
    }
  }
  uint64_t t = s[0] + s[1] + s[2] + s[3];
  for (; i < n; ++i) t += b[i];
  return t;
}

}  // namespace dkb::kernels
