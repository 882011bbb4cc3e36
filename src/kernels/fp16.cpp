// fp16 / bf16 <-> fp32 conversions, bit-exact with ggml's portable implementations
// (ggml_compute_fp16_to_fp32 / ggml_compute_fp32_to_fp16 and the bf16 pair in ggml-impl.h).
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"

namespace dkb::kernels {
namespace {

float from_bits(uint32_t w) {
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}

uint32_t to_bits(float f) {
  uint32_t w;
  std::memcpy(&w, &f, sizeof w);
  return w;
}

}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  // Normal numbers: shift exponent+mantissa into place, rebias by 2^-112 via a multiply
  // (which also turns inf/nan exponents into inf/nan).
  const uint32_t exp_offset = 0xE0u << 23;
  const float exp_scale = from_bits(0x7800000u);
  const float normalized = from_bits((two_w >> 4) + exp_offset) * exp_scale;
  // Subnormals: build 0.5 + m * 2^-24 and subtract 0.5 exactly.
  const uint32_t magic_mask = 126u << 23;
  const float denormalized = from_bits((two_w >> 17) | magic_mask) - 0.5f;
  const uint32_t denormalized_cutoff = 1u << 27;
  const uint32_t result =
      sign | (two_w < denormalized_cutoff ? to_bits(denormalized) : to_bits(normalized));
  return from_bits(result);
}

uint16_t fp32_to_fp16(float f) {
  // Scaling by 2^112 then 2^-110 makes the float unit round the mantissa (nearest even) and
  // overflow to inf where half would.
  const float scale_to_inf = from_bits(0x77800000u);
  const float scale_to_zero = from_bits(0x08800000u);
  float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;

  const uint32_t w = to_bits(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;

  base = from_bits((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = to_bits(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

float bf16_to_fp32(uint16_t h) {
  return from_bits(static_cast<uint32_t>(h) << 16);
}

uint16_t fp32_to_bf16(float f) {
  const uint32_t i = to_bits(f);
  if ((i & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<uint16_t>((i >> 16) | 64);  // NaN: keep payload, force quiet
  }
  return static_cast<uint16_t>((i + (0x7fffu + ((i >> 16) & 1))) >> 16);
}

}  // namespace dkb::kernels
