// Quantization block layouts, byte-for-byte identical to ggml's (ggml-common.h), so GGUF tensor
// data can be reinterpreted as arrays of these structs. All multi-byte fields are
// little-endian; `uint16_t` scale fields hold IEEE half (or the sum field of Q8_1) bits.
//
// Legacy types cover 32 elements per block; K-quants cover a 256-element super-block.
#pragma once

#include <cstdint>

namespace dkb::kernels {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK_K = 256;
inline constexpr int kKScaleSize = 12;

// x = d * (q - 8), q in [0, 15]; element j in low nibble of qs[j], element j+16 in high.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};
// x = d * q + m
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK4_1 / 2];
};
// x = d * (q - 16); bit 4 of element j in bit j of qh (little-endian uint32).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
// x = d * q + m
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
// x = d * q
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};
// x = d * q; s = d * sum(q) (half).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK8_1];
};

// 2-bit quants; 16 sub-blocks of 16 with 4-bit scale (low nibble) and min (high nibble).
// x = d * (scales & 0xF) * q - dmin * (scales >> 4)
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d;
  uint16_t dmin;
};
// 3-bit quants: low 2 bits in qs, high bit in hmask; 16 6-bit scales packed in 12 bytes.
// x = d * (scale - 32) * (q - 4 * !hbit)
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
// 4-bit quants; 8 sub-blocks of 32 with 6-bit scale and min packed in 12 bytes.
// x = d * scale * q - dmin * min
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};
// 5-bit quants: as Q4_K plus a high bit per element in qh.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
// 6-bit quants: low 4 bits in ql, high 2 in qh; 16 sub-blocks with int8 scales.
// x = d * scale * (q - 32)
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
// Activation format of K-quant dot products: float scale, bsums = sums of groups of 16.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace dkb::kernels
