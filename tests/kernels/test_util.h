// Shared helpers for the kernel tests: deterministic random data and random quantized rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "base/tensor_type.h"
#include "kernels/blocks.h"
#include "kernels/kernels.h"

namespace dkb::kernels::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& f : v) f = dist(rng);
  return v;
}

inline void put_half(uint8_t* p, float v) {
  const uint16_t h = fp32_to_fp16(v);
  std::memcpy(p, &h, 2);
}

// A weight row of n elements of type t with random quants and sane (small, positive) scales.
inline std::vector<uint8_t> random_row(TensorType t, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  if (t == TensorType::kF32 || t == TensorType::kF16 || t == TensorType::kBF16) {
    const auto f = random_floats(static_cast<size_t>(n), seed);
    std::vector<uint8_t> out(tensor_row_size(t, n));
    quantize_row(t, f.data(), out.data(), n);
    return out;
  }
  std::vector<uint8_t> out(tensor_row_size(t, n));
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  const auto traits = *tensor_type_traits(t);
  const int64_t nb = n / traits.block_size;
  for (int64_t i = 0; i < nb; ++i) {
    uint8_t* blk = out.data() + i * traits.type_size;
    switch (t) {
      case TensorType::kQ4_0:
      case TensorType::kQ5_0:
      case TensorType::kQ8_0:
        put_half(blk, scale(rng));
        break;
      case TensorType::kQ4_1:
      case TensorType::kQ5_1:
        put_half(blk, scale(rng));
        put_half(blk + 2, -8 * scale(rng));
        break;
      case TensorType::kQ2_K:
        put_half(blk + offsetof(BlockQ2_K, d), scale(rng));
        put_half(blk + offsetof(BlockQ2_K, dmin), scale(rng));
        break;
      case TensorType::kQ3_K:
        put_half(blk + offsetof(BlockQ3_K, d), scale(rng) * 0.1f);
        break;
      case TensorType::kQ4_K:
        put_half(blk + offsetof(BlockQ4_K, d), scale(rng) * 0.1f);
        put_half(blk + offsetof(BlockQ4_K, dmin), scale(rng) * 0.1f);
        break;
      case TensorType::kQ5_K:
        put_half(blk + offsetof(BlockQ5_K, d), scale(rng) * 0.1f);
        put_half(blk + offsetof(BlockQ5_K, dmin), scale(rng) * 0.1f);
        break;
      case TensorType::kQ6_K:
        put_half(blk + offsetof(BlockQ6_K, d), scale(rng) * 0.1f);
        break;
      default:
        break;
    }
  }
  return out;
}

inline std::vector<float> dequantized(TensorType t, const void* src, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, src, out.data(), n);
  return out;
}

inline std::vector<uint8_t> quantized(TensorType t, const float* x, int64_t n) {
  std::vector<uint8_t> out(tensor_row_size(t, n));
  quantize_row(t, x, out.data(), n);
  return out;
}

inline const TensorType kWeightTypes[] = {
    TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ4_0, TensorType::kQ4_1,
    TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ8_0, TensorType::kQ2_K, TensorType::kQ3_K,
    TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K};

// Every dispatch level, scalar first; loops skip those !isa_available (the levels of other
// architectures, and those this CPU lacks).
inline const Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon, Isa::kNeonDot};

// The SIMD levels this CPU has (empty: scalar only).
inline std::vector<Isa> simd_isas() {
  std::vector<Isa> v;
  for (Isa isa : kAllIsas) {
    if (isa != Isa::kScalar && isa_available(isa)) v.push_back(isa);
  }
  return v;
}

// Restores the active ISA when a test that switches it ends.
struct IsaGuard {
  Isa saved = active_isa();
  ~IsaGuard() { set_active_isa(saved); }
};

}  // namespace dkb::kernels::test
