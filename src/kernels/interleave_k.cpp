// The interleaved layout (WeightLayout::kInterleaved16, kernels.h) of the K-quant Q4_K: a group
// of 16 rows rewritten in place (16 * 144 bytes per 256-element super-block), and back. Read by
// gemm_interleaved_k_avx512.cpp.
//
// Q4_K, per group of 16 rows, super-block after super-block (2304 bytes each, so every 64-byte
// vector below starts 64-byte aligned relative to the group):
//   [0, 2048)     the quants: per sub-block s = 0..7 (32 elements) 4 vectors k of 64 bytes, at
//                 256 * s + 64 * k; vector k holds for row r = 0..15 at bytes 4r..4r+3 the nibbles
//                 of the sub-block's elements 4k..4k+3 (low nibbles) and 16+4k..16+4k+3 (high
//                 nibbles). So one vector and its two nibble halves are two vpdpbusd operands
//                 whose products all belong to one sub-block (one integer scale per row).
//                 (The row layout's qs[32j + l] holds element l of sub-blocks 2j (low nibble)
//                 and 2j + 1 (high nibble): the nibbles are regrouped, not just the bytes.)
//   [2048, 2080)  the 16 rows' d (fp16), row r at 2r
//   [2080, 2112)  the 16 rows' dmin (fp16)
//   [2112, 2304)  the 12 scale bytes: 3 vectors k of 64 bytes, vector k holding row r's
//                 scales[4k..4k+3] at bytes 4r..4r+3 (the 6-bit scales and mins of 16 rows then
//                 unpack with a few whole-vector shifts and masks: get_scale_min_k4's bytes j,
//                 j + 4 and j + 8 are byte j of vectors 0, 1 and 2 in each row's int32 lane).
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

constexpr int64_t kRows = kInterleaveRows;
constexpr int64_t kQ4KGroupBytes = 144 * kRows;  // one super-block of the 16 rows
constexpr int64_t kQ4KD = 2048, kQ4KDmin = 2080, kQ4KScales = 2112;

// Byte b of row r's piece of quant vector k of sub-block s (the layout above), from the row
// layout's qs: element e of sub-block s is nibble (s & 1) of qs[32 * (s / 2) + e].
uint8_t quant_byte(const uint8_t* qs, int s, int k, int b) {
  const uint8_t* q = qs + 32 * (s >> 1) + 4 * k + b;
  const int shift = 4 * (s & 1);
  return static_cast<uint8_t>(((q[0] >> shift) & 0xF) | (((q[16] >> shift) & 0xF) << 4));
}

// The inverse: ORs byte v of that piece into qs (which starts zeroed).
void put_quant_byte(uint8_t* qs, int s, int k, int b, uint8_t v) {
  uint8_t* q = qs + 32 * (s >> 1) + 4 * k + b;
  const int shift = 4 * (s & 1);
  q[0] = static_cast<uint8_t>(q[0] | ((v & 0xF) << shift));
  q[16] = static_cast<uint8_t>(q[16] | ((v >> 4) << shift));
}

}  // namespace

void interleave_group_q4_k(int64_t n_in, const uint8_t* rows, uint8_t* g) {
  const int64_t nsb = n_in / kQK_K;
  const size_t w_row = tensor_row_size(TensorType::kQ4_K, n_in);
  for (int64_t r = 0; r < kRows; ++r) {
    const auto* blk = reinterpret_cast<const BlockQ4_K*>(rows + r * w_row);
    for (int64_t i = 0; i < nsb; ++i) {
      uint8_t* sb = g + i * kQ4KGroupBytes;
      for (int s = 0; s < 8; ++s) {
        for (int k = 0; k < 4; ++k) {
          for (int b = 0; b < 4; ++b)
            sb[256 * s + 64 * k + 4 * r + b] = quant_byte(blk[i].qs, s, k, b);
        }
      }
      std::memcpy(sb + kQ4KD + 2 * r, &blk[i].d, 2);
      std::memcpy(sb + kQ4KDmin + 2 * r, &blk[i].dmin, 2);
      for (int k = 0; k < 3; ++k)
        std::memcpy(sb + kQ4KScales + 64 * k + 4 * r, blk[i].scales + 4 * k, 4);
    }
  }
}

void deinterleave_group_q4_k(int64_t n_in, const uint8_t* g, uint8_t* rows) {
  const int64_t nsb = n_in / kQK_K;
  const size_t w_row = tensor_row_size(TensorType::kQ4_K, n_in);
  for (int64_t r = 0; r < kRows; ++r) {
    auto* blk = reinterpret_cast<BlockQ4_K*>(rows + r * w_row);
    for (int64_t i = 0; i < nsb; ++i) {
      const uint8_t* sb = g + i * kQ4KGroupBytes;
      std::memset(blk[i].qs, 0, sizeof blk[i].qs);
      for (int s = 0; s < 8; ++s) {
        for (int k = 0; k < 4; ++k) {
          for (int b = 0; b < 4; ++b)
            put_quant_byte(blk[i].qs, s, k, b, sb[256 * s + 64 * k + 4 * r + b]);
        }
      }
      std::memcpy(&blk[i].d, sb + kQ4KD + 2 * r, 2);
      std::memcpy(&blk[i].dmin, sb + kQ4KDmin + 2 * r, 2);
      for (int k = 0; k < 3; ++k)
        std::memcpy(blk[i].scales + 4 * k, sb + kQ4KScales + 64 * k + 4 * r, 4);
    }
  }
}

}  // namespace dkb::kernels::detail
