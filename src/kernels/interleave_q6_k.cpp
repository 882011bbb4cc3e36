// The interleaved layout (WeightLayout::kInterleaved16) for Q6_K: one group of 16 rows, and back.
//
// A row's super-block holds 256 quants q (-32..31) as u = q + 32 (0..63): the low 4 bits in ql,
// the high 2 in qh (ggml's order, vec_dot_q6_k_scalar), then 16 int8 sub-block scales (one per
// 16 elements) and the fp16 d: 210 bytes. In the group (16 * 210 bytes per super-block, the same
// bytes) each super-block becomes 3360 bytes:
//   [0, 3072)     the quants: per sub-block j = 0..15 (elements 16j..16j+15), 3 vectors i = 0..2
//                 of 64 bytes at 192j + 64i; vector i holds, for row r = 0..15 at bytes 4r..4r+3,
//                 the row's elements e = 16j + 4i + k (k = 0..3) in bits 0-5 of byte 4r + k, and
//                 in bits 6-7 bits 2i, 2i+1 of element 16j + 12 + k. So u of steps 4j..4j+2
//                 (4 elements of each row) is one AND, and u of step 4j + 3 is gathered from
//                 the top bits of the three vectors (shifts and selects).
//   [3072, 3328)  the scales: byte 16j + r = row r's scale of sub-block j (16 bytes sign-extend
//                 to the 16 rows' int32 lanes)
//   [3328, 3360)  the 16 rows' fp16 d
// Super-blocks go in pairs, as Q4_0's blocks (interleave.cpp): per pair (2p, 2p + 1), 6720
// bytes, the quants of 2p, then those of 2p + 1, then the scales and d of 2p, then those of
// 2p + 1, so that every quant vector starts 64-byte aligned relative to the group; with an odd
// super-block count the last stands alone (quants, scales, d). ilv_quants_at / ilv_meta_at with
// kIlvQ6K (kernels_internal.h) give these offsets.
#include <cstring>

#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels::detail {
namespace {

constexpr int64_t kRows = kInterleaveRows;

// The 256 u of a row's super-block in element order, from ql / qh.
void unpack_u(const BlockQ6_K& b, uint8_t* u) {
  for (int h = 0; h < 2; ++h) {
    const uint8_t* ql = b.ql + 64 * h;
    const uint8_t* qh = b.qh + 32 * h;
    uint8_t* o = u + 128 * h;
    for (int l = 0; l < 32; ++l) {
      o[l] = static_cast<uint8_t>((ql[l] & 0xF) | ((qh[l] & 3) << 4));
      o[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
      o[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      o[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
    }
  }
}

// The inverse of unpack_u.
void pack_u(const uint8_t* u, BlockQ6_K& b) {
  for (int h = 0; h < 2; ++h) {
    uint8_t* ql = b.ql + 64 * h;
    uint8_t* qh = b.qh + 32 * h;
    const uint8_t* o = u + 128 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((o[l] & 0xF) | ((o[l + 64] & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((o[l + 32] & 0xF) | ((o[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((o[l] >> 4) | ((o[l + 32] >> 4) << 2) | ((o[l + 64] >> 4) << 4) |
                                   ((o[l + 96] >> 4) << 6));
    }
  }
}

}  // namespace

void interleave_group_q6_k(int64_t n_in, const uint8_t* rows, uint8_t* g) {
  const int64_t nsb = n_in / kQK_K;
  const size_t w_row = tensor_row_size(TensorType::kQ6_K, n_in);
  uint8_t u[kQK_K];
  for (int64_t r = 0; r < kRows; ++r) {
    const auto* blk = reinterpret_cast<const BlockQ6_K*>(rows + r * w_row);
    for (int64_t i = 0; i < nsb; ++i) {
      unpack_u(blk[i], u);
      uint8_t* q = g + ilv_quants_at(kIlvQ6K, i) + 4 * r;
      for (int j = 0; j < 16; ++j) {
        for (int v = 0; v < 3; ++v) {
          for (int k = 0; k < 4; ++k) {
            const int top = (u[16 * j + 12 + k] >> (2 * v)) & 3;
            q[192 * j + 64 * v + k] = static_cast<uint8_t>(u[16 * j + 4 * v + k] | (top << 6));
          }
        }
      }
      uint8_t* s = g + ilv_meta_at(kIlvQ6K, nsb, i);
      for (int j = 0; j < 16; ++j) s[16 * j + r] = static_cast<uint8_t>(blk[i].scales[j]);
      std::memcpy(s + 256 + 2 * r, &blk[i].d, 2);
    }
  }
}

void deinterleave_group_q6_k(int64_t n_in, const uint8_t* g, uint8_t* rows) {
  const int64_t nsb = n_in / kQK_K;
  const size_t w_row = tensor_row_size(TensorType::kQ6_K, n_in);
  uint8_t u[kQK_K];
  for (int64_t r = 0; r < kRows; ++r) {
    auto* blk = reinterpret_cast<BlockQ6_K*>(rows + r * w_row);
    for (int64_t i = 0; i < nsb; ++i) {
      const uint8_t* q = g + ilv_quants_at(kIlvQ6K, i) + 4 * r;
      for (int j = 0; j < 16; ++j) {
        for (int k = 0; k < 4; ++k) {
          int top = 0;
          for (int v = 0; v < 3; ++v) {
            const uint8_t b = q[192 * j + 64 * v + k];
            u[16 * j + 4 * v + k] = b & 0x3F;
            top |= (b >> 6) << (2 * v);
          }
          u[16 * j + 12 + k] = static_cast<uint8_t>(top);
        }
      }
      pack_u(u, blk[i]);
      const uint8_t* s = g + ilv_meta_at(kIlvQ6K, nsb, i);
      for (int j = 0; j < 16; ++j) blk[i].scales[j] = static_cast<int8_t>(s[16 * j + r]);
      std::memcpy(&blk[i].d, s + 256 + 2 * r, 2);
    }
  }
}

}  // namespace dkb::kernels::detail
