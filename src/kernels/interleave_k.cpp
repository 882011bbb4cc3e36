// The interleaved layout (WeightLayout::kInterleaved16, kernels.h) of the K-quants Q4_K and Q5_K:
// a group of 16 rows rewritten in place (16 * 144 bytes per 256-element super-block for Q4_K,
// 16 * 176 for Q5_K), and back. Read by gemm_interleaved_k_avx512.cpp.
//
// Per group of 16 rows, super-block after super-block (2304 bytes each for Q4_K, 2816 for Q5_K,
// so every 64-byte vector below starts 64-byte aligned relative to the group); offsets as in
// IlvKLayout (kernels_internal.h):
//   [0, d)   the quants, per sub-block s = 0..7 (32 elements), as vpdpbusd operands: vectors of
//            64 bytes holding for row r = 0..15 at bytes 4r..4r+3 4 consecutive elements of the
//            sub-block, so that every product of an operand belongs to one sub-block (one
//            integer scale per row). (The row layout's qs[32j + l] holds element l of sub-blocks
//            2j (low nibble) and 2j + 1 (high nibble): the nibbles are regrouped, not just the
//            bytes.)
//            Q4_K: 4 vectors k per sub-block, at 256 * s + 64 * k; the low nibbles of vector k
//            are elements 4k..4k+3 of the sub-block, its high nibbles elements 16+4k..16+4k+3.
//            Q5_K: 5 vectors i per sub-block, at 320 * s + 64 * i: bits 3..7 of byte 4r + b of
//            vector i are the 5-bit quant of element 4i + b of row r (operands 0..4: the quants
//            times 8, one and each), bits 0..2 those of elements 20 + b, 24 + b and 28 + b
//            (operands 5..7, also times 8, from two or three vectors each): element 20 + b's
//            bits 0..2 in vector 0's bits 0..2, its bits 3..4 in vector 1's bits 0..1; element
//            24 + b's likewise in vectors 2 and 3; element 28 + b's bits 0..2 in vector 4's bits
//            0..2, bit 3 in vector 1's bit 2, bit 4 in vector 3's bit 2.
//   d        the 16 rows' d (fp16), row r at d + 2r
//   dmin     the 16 rows' dmin (fp16), at dmin = d + 32
//   scales   the 12 scale bytes: 3 vectors k of 64 bytes, vector k holding row r's
//            scales[4k..4k+3] at bytes 4r..4r+3 (the 6-bit scales and mins of 16 rows then
//            unpack with a few whole-vector shifts and masks: get_scale_min_k4's bytes j,
//            j + 4 and j + 8 are byte j of vectors 0, 1 and 2 in each row's int32 lane).
#include <cstring>
#include <type_traits>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

constexpr int64_t kRows = kInterleaveRows;
// Byte-wise masks on 4 bytes at once.
constexpr uint32_t k01 = 0x01010101u, k03 = 0x03030303u, k07 = 0x07070707u, k0F = 0x0F0F0F0Fu,
                   k1F = 0x1F1F1F1Fu;

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store_u32(uint8_t* p, uint32_t v) {
  std::memcpy(p, &v, sizeof v);
}

// Q4_K: one row's 4 bytes of each quant vector of a super-block (at q + 256 * s + 64 * k; q
// points at the row's bytes 4r..4r+3 of the super-block) from its qs. qs[32j..32j+31] hold the
// elements of sub-blocks 2j (low nibbles) and 2j + 1 (high nibbles): 4 of its bytes at 4k and
// at 16 + 4k give vector k of both.
void q4_k_to_layout(const uint8_t* qs, uint8_t* q) {
  for (int j = 0; j < 4; ++j) {
    for (int k = 0; k < 4; ++k) {
      const uint32_t a = load_u32(qs + 32 * j + 4 * k), c = load_u32(qs + 32 * j + 16 + 4 * k);
      store_u32(q + 512 * j + 64 * k, (a & k0F) | (c & k0F) << 4);
      store_u32(q + 512 * j + 256 + 64 * k, (a >> 4 & k0F) | (c & ~k0F));
    }
  }
}

// The inverse.
void q4_k_from_layout(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < 4; ++j) {
    for (int k = 0; k < 4; ++k) {
      const uint32_t e = load_u32(q + 512 * j + 64 * k), o = load_u32(q + 512 * j + 256 + 64 * k);
      store_u32(qs + 32 * j + 4 * k, (e & k0F) | (o & k0F) << 4);
      store_u32(qs + 32 * j + 16 + 4 * k, (e >> 4 & k0F) | (o & ~k0F));
    }
  }
}

// Q5_K: one row's 4 bytes of each of the 5 vectors of each sub-block of a super-block (at
// q + 320 * s + 64 * i, as above) from its block. Element e of sub-block s: low 4 bits in nibble
// (s & 1) of qs[32 * (s / 2) + e], 5th bit in bit s of qh[e]; v[i] below: elements 4i..4i+3.
void q5_k_to_layout(const BlockQ5_K& blk, uint8_t* q) {
  for (int s = 0; s < 8; ++s) {
    uint32_t v[8];
    for (int i = 0; i < 8; ++i) {
      v[i] = (load_u32(blk.qs + 32 * (s >> 1) + 4 * i) >> (4 * (s & 1)) & k0F) |
             (load_u32(blk.qh + 4 * i) >> s & k01) << 4;
    }
    uint8_t* p = q + 320 * s;
    store_u32(p, v[0] << 3 | (v[5] & k07));
    store_u32(p + 64, v[1] << 3 | (v[5] >> 3 & k03) | (v[7] >> 3 & k01) << 2);
    store_u32(p + 128, v[2] << 3 | (v[6] & k07));
    store_u32(p + 192, v[3] << 3 | (v[6] >> 3 & k03) | (v[7] >> 4 & k01) << 2);
    store_u32(p + 256, v[4] << 3 | (v[7] & k07));
  }
}

// The inverse (qs and qh start zeroed).
void q5_k_from_layout(const uint8_t* q, BlockQ5_K& blk) {
  for (int s = 0; s < 8; ++s) {
    const uint8_t* p = q + 320 * s;
    uint32_t w[5], v[8];
    for (int i = 0; i < 5; ++i) {
      w[i] = load_u32(p + 64 * i);
      v[i] = w[i] >> 3 & k1F;
    }
    v[5] = (w[0] & k07) | (w[1] & k03) << 3;
    v[6] = (w[2] & k07) | (w[3] & k03) << 3;
    v[7] = (w[4] & k07) | (w[1] >> 2 & k01) << 3 | (w[3] >> 2 & k01) << 4;
    for (int i = 0; i < 8; ++i) {
      uint8_t* qs = blk.qs + 32 * (s >> 1) + 4 * i;
      store_u32(qs, load_u32(qs) | (v[i] & k0F) << (4 * (s & 1)));
      store_u32(blk.qh + 4 * i, load_u32(blk.qh + 4 * i) | (v[i] >> 4 & k01) << s);
    }
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
      if constexpr (kQ5) {
        q5_k_to_layout(blk[i], sb + 4 * r);
      } else {
        q4_k_to_layout(blk[i].qs, sb + 4 * r);
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
      if constexpr (kQ5) {
        std::memset(blk[i].qs, 0, sizeof blk[i].qs);
        std::memset(blk[i].qh, 0, sizeof blk[i].qh);
        q5_k_from_layout(sb + 4 * r, blk[i]);
      } else {
        q4_k_from_layout(sb + 4 * r, blk[i].qs);
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
