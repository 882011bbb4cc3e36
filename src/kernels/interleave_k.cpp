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

// Q5_K: the 5-bit quants q[32] of sub-block s of a row's block: element e's low 4 bits are
// nibble (s & 1) of qs[32 * (s / 2) + e], its 5th bit is bit s of qh[e].
void q5_values(const BlockQ5_K& blk, int s, uint8_t* q) {
  for (int e = 0; e < 32; ++e) {
    const int lo = (blk.qs[32 * (s >> 1) + e] >> (4 * (s & 1))) & 0xF;
    q[e] = static_cast<uint8_t>(lo | (((blk.qh[e] >> s) & 1) << 4));
  }
}

// The inverse: ORs them into qs and qh (which start zeroed).
void put_q5_values(const uint8_t* q, int s, BlockQ5_K& blk) {
  for (int e = 0; e < 32; ++e) {
    uint8_t& qs = blk.qs[32 * (s >> 1) + e];
    qs = static_cast<uint8_t>(qs | ((q[e] & 0xF) << (4 * (s & 1))));
    blk.qh[e] = static_cast<uint8_t>(blk.qh[e] | ((q[e] >> 4) << s));
  }
}

// Q5_K: byte b of a row's piece of the 5 vectors of a sub-block (the layout above), from its
// quants q[32].
void q5_bytes(const uint8_t* q, int b, uint8_t* out) {
  const int q5 = q[20 + b], q6 = q[24 + b], q7 = q[28 + b];
  out[0] = static_cast<uint8_t>(q[b] << 3 | (q5 & 7));
  out[1] = static_cast<uint8_t>(q[4 + b] << 3 | (q5 >> 3) | ((q7 >> 3) & 1) << 2);
  out[2] = static_cast<uint8_t>(q[8 + b] << 3 | (q6 & 7));
  out[3] = static_cast<uint8_t>(q[12 + b] << 3 | (q6 >> 3) | (q7 >> 4) << 2);
  out[4] = static_cast<uint8_t>(q[16 + b] << 3 | (q7 & 7));
}

// The inverse: the quants of elements b, 4 + b, ..., 28 + b into q.
void q5_from_bytes(const uint8_t* in, int b, uint8_t* q) {
  for (int i = 0; i < 5; ++i) q[4 * i + b] = static_cast<uint8_t>(in[i] >> 3);
  q[20 + b] = static_cast<uint8_t>((in[0] & 7) | (in[1] & 3) << 3);
  q[24 + b] = static_cast<uint8_t>((in[2] & 7) | (in[3] & 3) << 3);
  q[28 + b] = static_cast<uint8_t>((in[4] & 7) | ((in[1] >> 2) & 1) << 3 | ((in[3] >> 2) & 1) << 4);
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
        if constexpr (kQ5) {
          uint8_t q[32], v[5];
          q5_values(blk[i], s, q);
          for (int b = 0; b < 4; ++b) {
            q5_bytes(q, b, v);
            for (int k = 0; k < 5; ++k) sb[320 * s + 64 * k + 4 * r + b] = v[k];
          }
        } else {
          for (int k = 0; k < 4; ++k) {
            for (int b = 0; b < 4; ++b) {
              sb[256 * s + 64 * k + 4 * r + b] = quant_byte(blk[i].qs, s, k, b);
            }
          }
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
        if constexpr (kQ5) {
          uint8_t q[32], v[5];
          for (int b = 0; b < 4; ++b) {
            for (int k = 0; k < 5; ++k) v[k] = sb[320 * s + 64 * k + 4 * r + b];
            q5_from_bytes(v, b, q);
          }
          put_q5_values(q, s, blk[i]);
        } else {
          for (int k = 0; k < 4; ++k) {
            for (int b = 0; b < 4; ++b) {
              put_quant_byte(blk[i].qs, s, k, b, sb[256 * s + 64 * k + 4 * r + b]);
            }
          }
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
