// The interleaved layout (WeightLayout::kInterleaved16, kernels.h) of the K-quants Q4_K and Q5_K:
// a group of 16 rows rewritten in place (16 * 144 bytes per 256-element super-block for Q4_K,
// 16 * 176 for Q5_K), and back. Read by gemm_interleaved_k_avx512.cpp.
//
// Per group of 16 rows, super-block after super-block (2304 bytes each for Q4_K, 2816 for Q5_K,
// so every 64-byte vector below starts 64-byte aligned relative to the group); offsets as in
// IlvKLayout (kernels_internal.h):
//   [0, 2048)   the quants' low 4 bits: per sub-block s = 0..7 (32 elements) 4 vectors k of 64
//               bytes, at 256 * s + 64 * k; vector k holds for row r = 0..15 at bytes 4r..4r+3
//               the nibbles of the sub-block's elements 4k..4k+3 (low nibbles) and
//               16+4k..16+4k+3 (high nibbles). So one vector and its two nibble halves are two
//               vpdpbusd operands whose products all belong to one sub-block (one integer scale
//               per row). (The row layout's qs[32j + l] holds element l of sub-blocks 2j (low
//               nibble) and 2j + 1 (high nibble): the nibbles are regrouped, not just the bytes.)
//   Q5_K only, [2048, 2560): the quants' 5th bits: per sub-block s one vector of 64 bytes, at
//               2048 + 64 * s, holding for row r at bytes 4r..4r+3 those of the 4 quant vectors k
//               of the sub-block: bit k of byte 4r + b is the 5th bit of the low nibble of byte
//               4r + b of quant vector k (element 4k + b), bit 4 + k that of its high nibble
//               (element 16 + 4k + b). So one load per sub-block, and a test or a shift per
//               nibble half selects a quant vector's bits.
//   d           the 16 rows' d (fp16), row r at d + 2r
//   dmin        the 16 rows' dmin (fp16), at dmin = d + 32
//   scales      the 12 scale bytes: 3 vectors k of 64 bytes, vector k holding row r's
//               scales[4k..4k+3] at bytes 4r..4r+3 (the 6-bit scales and mins of 16 rows then
//               unpack with a few whole-vector shifts and masks: get_scale_min_k4's bytes j,
//               j + 4 and j + 8 are byte j of vectors 0, 1 and 2 in each row's int32 lane).
#include <cstring>
#include <type_traits>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

constexpr int64_t kRows = kInterleaveRows;

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

// Q5_K: byte b of row r's piece of the 5th-bit vector of sub-block s (the layout above), from
// the row layout's qh: the 5th bit of element e of sub-block s is bit s of qh[e].
uint8_t high_bits_byte(const uint8_t* qh, int s, int b) {
  int v = 0;
  for (int k = 0; k < 4; ++k) {
    v |= ((qh[4 * k + b] >> s) & 1) << k;
    v |= ((qh[16 + 4 * k + b] >> s) & 1) << (4 + k);
  }
  return static_cast<uint8_t>(v);
}

// The inverse: ORs byte v of that piece into qh.
void put_high_bits_byte(uint8_t* qh, int s, int b, uint8_t v) {
  for (int k = 0; k < 4; ++k) {
    qh[4 * k + b] = static_cast<uint8_t>(qh[4 * k + b] | (((v >> k) & 1) << s));
    qh[16 + 4 * k + b] = static_cast<uint8_t>(qh[16 + 4 * k + b] | (((v >> (4 + k)) & 1) << s));
  }
}

template <class Block>
void interleave_group_k(int64_t n_in, const uint8_t* rows, uint8_t* g) {
  constexpr bool kQ5 = std::is_same_v<Block, BlockQ5_K>;
  constexpr IlvKLayout L = kQ5 ? kIlvQ5K : kIlvQ4K;
  const int64_t nsb = n_in / kQK_K;
  const size_t w_row = sizeof(Block) * static_cast<size_t>(nsb);
  for (int64_t r = 0; r < kRows; ++r) {
    const auto* blk = reinterpret_cast<const Block*>(rows + r * w_row);
    for (int64_t i = 0; i < nsb; ++i) {
      uint8_t* sb = g + i * L.bytes;
      for (int s = 0; s < 8; ++s) {
        for (int k = 0; k < 4; ++k) {
          for (int b = 0; b < 4; ++b) {
            sb[256 * s + 64 * k + 4 * r + b] = quant_byte(blk[i].qs, s, k, b);
          }
        }
        if constexpr (kQ5) {
          for (int b = 0; b < 4; ++b)
            sb[L.qh + 64 * s + 4 * r + b] = high_bits_byte(blk[i].qh, s, b);
        }
      }
      std::memcpy(sb + L.d + 2 * r, &blk[i].d, 2);
      std::memcpy(sb + L.dmin + 2 * r, &blk[i].dmin, 2);
      for (int k = 0; k < 3; ++k) {
        std::memcpy(sb + L.scales + 64 * k + 4 * r, blk[i].scales + 4 * k, 4);
      }
    }
  }
}

template <class Block>
void deinterleave_group_k(int64_t n_in, const uint8_t* g, uint8_t* rows) {
  constexpr bool kQ5 = std::is_same_v<Block, BlockQ5_K>;
  constexpr IlvKLayout L = kQ5 ? kIlvQ5K : kIlvQ4K;
  const int64_t nsb = n_in / kQK_K;
  const size_t w_row = sizeof(Block) * static_cast<size_t>(nsb);
  for (int64_t r = 0; r < kRows; ++r) {
    auto* blk = reinterpret_cast<Block*>(rows + r * w_row);
    for (int64_t i = 0; i < nsb; ++i) {
      const uint8_t* sb = g + i * L.bytes;
      std::memset(blk[i].qs, 0, sizeof blk[i].qs);
      if constexpr (kQ5) std::memset(blk[i].qh, 0, sizeof blk[i].qh);
      for (int s = 0; s < 8; ++s) {
        for (int k = 0; k < 4; ++k) {
          for (int b = 0; b < 4; ++b) {
            put_quant_byte(blk[i].qs, s, k, b, sb[256 * s + 64 * k + 4 * r + b]);
          }
        }
        if constexpr (kQ5) {
          for (int b = 0; b < 4; ++b)
            put_high_bits_byte(blk[i].qh, s, b, sb[L.qh + 64 * s + 4 * r + b]);
        }
      }
      std::memcpy(&blk[i].d, sb + L.d + 2 * r, 2);
      std::memcpy(&blk[i].dmin, sb + L.dmin + 2 * r, 2);
      for (int k = 0; k < 3; ++k) {
        std::memcpy(blk[i].scales + 4 * k, sb + L.scales + 64 * k + 4 * r, 4);
      }
    }
  }
}

}  // namespace

void interleave_group_q4_k(int64_t n_in, const uint8_t* rows, uint8_t* g) {
  interleave_group_k<BlockQ4_K>(n_in, rows, g);
}

void deinterleave_group_q4_k(int64_t n_in, const uint8_t* g, uint8_t* rows) {
  deinterleave_group_k<BlockQ4_K>(n_in, g, rows);
}

void interleave_group_q5_k(int64_t n_in, const uint8_t* rows, uint8_t* g) {
  interleave_group_k<BlockQ5_K>(n_in, rows, g);
}

void deinterleave_group_q5_k(int64_t n_in, const uint8_t* g, uint8_t* rows) {
  deinterleave_group_k<BlockQ5_K>(n_in, g, rows);
}

}  // namespace dkb::kernels::detail
