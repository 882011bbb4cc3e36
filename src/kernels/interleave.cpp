// The interleaved weight layout (WeightLayout::kInterleaved16, kernels.h): rewriting a matrix's
// rows in place, and back (Q6_K's groups: interleave_q6_k.cpp); for long rows, each panel of
// groups then stored slice by slice (ilv_slicing, kernels_internal.h).
//
// Q4_0, per group of 16 rows (16 * row bytes, the same bytes as the rows), blocks in pairs: per
// pair of blocks (2p, 2p + 1), 576 bytes:
//   [0, 256)    block 2p's quants: 4 vectors i of 64 bytes; vector i holds, for row r = 0..15
//               at bytes 4r..4r+3, the row's qs[4i..4i+3] (low nibbles: elements 4i..4i+3, high
//               nibbles: elements 16+4i..16+4i+3)
//   [256, 512)  block 2p + 1's quants, the same way
//   [512, 576)  the 16 rows' fp16 scales of block 2p, then those of block 2p + 1
// With an odd block count the last block stands alone: 256 bytes of quants, 32 of scales. Every
// 64-byte vector of a pair starts 64-byte aligned relative to the group. Offsets:
// ilv_quants_at / ilv_meta_at with kIlvQ4_0 (kernels_internal.h; kIlvQ8_0 for Q8_0 below).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/status.h"
#include "kernels/blocks.h"
#include "kernels/kernels.h"
#include "kernels_internal.h"

namespace dkb::kernels {
namespace detail {
namespace {
constexpr int64_t kRows = kInterleaveRows;

// 4 bytes from s to d, each byte XOR flip's.
void copy_word(void* d, const void* s, uint32_t flip) {
  uint32_t v;
  std::memcpy(&v, s, 4);
  v ^= flip;
  std::memcpy(d, &v, 4);
}

// The Q4_0 and Q8_0 group layouts in one: block b's quants as 4-byte words, word i of row r at
// byte 64 i + 4 r of the block's quants (each byte XOR kFlip on the way), its fp16 d at byte 2 r
// of its meta (offsets l). kToGroup: rows -> group g; else g -> rows.
template <class Block, TensorType kType, uint32_t kFlip, bool kToGroup>
void move_paired_group(IlvPaired l, int64_t n_in,
                       std::conditional_t<kToGroup, const uint8_t*, uint8_t*> rows,
                       std::conditional_t<kToGroup, uint8_t*, const uint8_t*> g) {
  constexpr int kWords = static_cast<int>(sizeof(Block::qs) / 4);
  const int64_t nb = n_in / tensor_type_traits(kType)->block_size;
  const size_t w_row = tensor_row_size(kType, n_in);
  using BlockPtr = std::conditional_t<kToGroup, const Block*, Block*>;
  for (int64_t r = 0; r < kRows; ++r) {
    const auto blk = reinterpret_cast<BlockPtr>(rows + r * w_row);
    for (int64_t b = 0; b < nb; ++b) {
      const auto q = g + ilv_quants_at(l, b);
      const auto meta = g + ilv_meta_at(l, nb, b) + 2 * r;
      for (int i = 0; i < kWords; ++i) {
        if constexpr (kToGroup) {
          copy_word(q + 64 * i + 4 * r, blk[b].qs + 4 * i, kFlip);
        } else {
          copy_word(blk[b].qs + 4 * i, q + 64 * i + 4 * r, kFlip);
        }
      }
      if constexpr (kToGroup) {
        std::memcpy(meta, &blk[b].d, 2);
      } else {
        std::memcpy(&blk[b].d, meta, 2);
      }
    }
  }
}

}  // namespace

void interleave_group_q4_0(int64_t n_in, const uint8_t* rows, uint8_t* g) {
  move_paired_group<BlockQ4_0, TensorType::kQ4_0, 0, true>(kIlvQ4_0, n_in, rows, g);
}

void deinterleave_group_q4_0(int64_t n_in, const uint8_t* g, uint8_t* rows) {
  move_paired_group<BlockQ4_0, TensorType::kQ4_0, 0, false>(kIlvQ4_0, n_in, rows, g);
}

// Q5_0, per group of 16 rows, blocks in pairs: per pair of blocks (2p, 2p + 1), 704 bytes:
//   [0, 320)    block 2p: its nibbles as Q4_0's (4 vectors i of 64 bytes, row r's qs[4i..4i+3]
//               at 64i + 4r), then one vector of the 16 rows' qh (row r's 4 bytes at 256 + 4r)
//   [320, 640)  block 2p + 1, the same way
//   [640, 704)  the 16 rows' fp16 scales of block 2p, then those of block 2p + 1
// With an odd block count the last block stands alone: 320 bytes of quants, 32 of scales.
namespace {
template <bool kToGroup>
void move_q5_0_group(int64_t n_in, std::conditional_t<kToGroup, const uint8_t*, uint8_t*> rows,
                     std::conditional_t<kToGroup, uint8_t*, const uint8_t*> g) {
  const int64_t nb = n_in / kQK5_0;
  const size_t w_row = tensor_row_size(TensorType::kQ5_0, n_in);
  using BlockPtr = std::conditional_t<kToGroup, const BlockQ5_0*, BlockQ5_0*>;
  for (int64_t r = 0; r < kRows; ++r) {
    const auto blk = reinterpret_cast<BlockPtr>(rows + r * w_row);
    for (int64_t b = 0; b < nb; ++b) {
      const auto q = g + ilv_quants_at(kIlvQ5_0, b);
      const auto meta = g + ilv_meta_at(kIlvQ5_0, nb, b) + 2 * r;
      if constexpr (kToGroup) {
        for (int i = 0; i < 4; ++i) copy_word(q + 64 * i + 4 * r, blk[b].qs + 4 * i, 0);
        copy_word(q + 256 + 4 * r, blk[b].qh, 0);
        std::memcpy(meta, &blk[b].d, 2);
      } else {
        for (int i = 0; i < 4; ++i) copy_word(blk[b].qs + 4 * i, q + 64 * i + 4 * r, 0);
        copy_word(blk[b].qh, q + 256 + 4 * r, 0);
        std::memcpy(&blk[b].d, meta, 2);
      }
    }
  }
}
}  // namespace

void interleave_group_q5_0(int64_t n_in, const uint8_t* rows, uint8_t* g) {
  move_q5_0_group<true>(n_in, rows, g);
}

void deinterleave_group_q5_0(int64_t n_in, const uint8_t* g, uint8_t* rows) {
  move_q5_0_group<false>(n_in, rows, g);
}

// Q8_0, per group of 16 rows, blocks in pairs (written by the same mover as Q4_0): per pair of blocks (2p, 2p + 1), 1088 bytes:
//   [0, 512)     block 2p's quants as unsigned bytes u = q + 128: 8 vectors s of 64 bytes,
//                vector s holding, for row r at bytes 4r..4r+3, the row's u[4s..4s+3]
//   [512, 1024)  block 2p + 1's quants, the same way
//   [1024, 1088) the 16 rows' fp16 scales of block 2p, then those of block 2p + 1
// With an odd block count the last block stands alone: 512 bytes of quants, 32 of scales.
void interleave_group_q8_0(int64_t n_in, const uint8_t* rows, uint8_t* g) {
  move_paired_group<BlockQ8_0, TensorType::kQ8_0, 0x80808080u, true>(kIlvQ8_0, n_in, rows, g);
}

void deinterleave_group_q8_0(int64_t n_in, const uint8_t* g, uint8_t* rows) {
  move_paired_group<BlockQ8_0, TensorType::kQ8_0, 0x80808080u, false>(kIlvQ8_0, n_in, rows, g);
}

bool interleave_type(TensorType t) {
  return t == TensorType::kQ4_0 || t == TensorType::kQ5_0 || t == TensorType::kQ8_0 ||
         t == TensorType::kQ4_K || t == TensorType::kQ5_K || t == TensorType::kQ6_K;
}

void interleave_group(TensorType t, int64_t n_in, const uint8_t* rows, uint8_t* g) {
  switch (t) {
    case TensorType::kQ4_0:
      return interleave_group_q4_0(n_in, rows, g);
    case TensorType::kQ5_0:
      return interleave_group_q5_0(n_in, rows, g);
    case TensorType::kQ8_0:
      return interleave_group_q8_0(n_in, rows, g);
    case TensorType::kQ6_K:
      return interleave_group_q6_k(n_in, rows, g);
    case TensorType::kQ4_K:
      return interleave_group_q4_k(n_in, rows, g);
    case TensorType::kQ5_K:
      return interleave_group_q5_k(n_in, rows, g);
    default:
      DKB_CHECK(false);
  }
}

void deinterleave_group(TensorType t, int64_t n_in, const uint8_t* g, uint8_t* rows) {
  switch (t) {
    case TensorType::kQ4_0:
      return deinterleave_group_q4_0(n_in, g, rows);
    case TensorType::kQ5_0:
      return deinterleave_group_q5_0(n_in, g, rows);
    case TensorType::kQ8_0:
      return deinterleave_group_q8_0(n_in, g, rows);
    case TensorType::kQ6_K:
      return deinterleave_group_q6_k(n_in, g, rows);
    case TensorType::kQ4_K:
      return deinterleave_group_q4_k(n_in, g, rows);
    case TensorType::kQ5_K:
      return deinterleave_group_q5_k(n_in, g, rows);
    default:
      DKB_CHECK(false);
  }
}

}  // namespace detail

bool interleave_supported(TensorType t, int64_t n_in, int64_t n_rows) {
  const auto traits = tensor_type_traits(t);
  return detail::interleave_type(t) && traits.has_value() && n_in > 0 &&
         n_in % traits->block_size == 0 && n_rows > 0 && n_rows % detail::kInterleaveRows == 0;
}

bool interleave_pays(TensorType t, int64_t n_in, int64_t n_rows) {
  static const bool off = [] {
    const char* v = std::getenv("DKB_NO_INTERLEAVE");
    return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
  }();
  return !off && active_isa() == Isa::kAvx512 && interleave_supported(t, n_in, n_rows);
}

namespace detail {

int64_t ilv_panel_groups(TensorType t, int64_t n_in) {
  constexpr size_t kPanelBytes = 256 * 1024;
  const size_t group_bytes = tensor_row_size(t, n_in) * kRows;
  const auto groups = static_cast<int64_t>(kPanelBytes / group_bytes);
  // Even: the prefill kernels take two groups at a time (an odd panel of 3 groups, n_in 8960,
  // ran every third group alone).
  return std::max<int64_t>(2, (groups + 1) / 2 * 2);
}

IlvSlicing ilv_slicing(TensorType t, int64_t n_in) {
  // Q4_0 8960 -> 1536, one thread, weights from memory at ~62 GB/s: 23.2-23.6 GB/s plain,
  // 25.8-27.3 sliced by 64 blocks (18 KiB pieces); by 32 as good, by 128 (36 KiB, more than L1)
  // 24.4. Q8_0 is not sliced: its kernels keep the AVX2 vec_dot's lane order, whose sums are
  // not carried as one float per row.
  constexpr size_t kPieceBytes = 18 * 1024;
  static const bool off = [] {
    const char* v = std::getenv("DKB_NO_SLICE");
    return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
  }();
  if (off || t == TensorType::kQ8_0 || !interleave_type(t)) return {};
  const auto traits = tensor_type_traits(t);
  const int64_t nb = n_in / traits->block_size;
  const size_t block = traits->type_size * kRows;  // a block of a group
  // Even: Q4_0's, Q5_0's and Q6_K's groups pair their blocks.
  const int64_t slice = std::max<int64_t>(2, static_cast<int64_t>(kPieceBytes / block) / 2 * 2);
  if (nb <= 2 * slice) return {};
  return {slice, ilv_panel_groups(t, n_in)};
}

namespace {

// The byte ranges of one panel of p groups of nb blocks (bb bytes per block of a group):
// fn(offset in the plain groups, offset sliced, bytes) for every piece.
template <class Fn>
void for_each_piece(IlvSlicing sl, int64_t p, int64_t nb, size_t bb, const Fn& fn) {
  const int64_t s = sl.slice_blocks;
  for (int64_t g = 0; g < p; ++g) {
    for (int64_t b0 = 0; b0 < nb; b0 += s) {
      const int64_t len = std::min(s, nb - b0);
      fn(static_cast<size_t>(g * nb + b0) * bb, static_cast<size_t>(p * b0 + g * len) * bb,
         static_cast<size_t>(len) * bb);
    }
  }
}

}  // namespace

const uint8_t* ilv_group(TensorType t, int64_t n_in, int64_t n_rows, const uint8_t* w, int64_t grp,
                         uint8_t* scratch) {
  const size_t group_bytes = tensor_row_size(t, n_in) * kRows;
  const IlvSlicing sl = ilv_slicing(t, n_in);
  if (sl.slice_blocks == 0) return w + grp * group_bytes;
  const int64_t nb = n_in / tensor_type_traits(t)->block_size;
  const int64_t first = grp / sl.panel_groups * sl.panel_groups;
  const int64_t p = std::min(sl.panel_groups, n_rows / kRows - first), g = grp - first;
  const uint8_t* panel = w + first * group_bytes;
  for_each_piece(sl, p, nb, group_bytes / nb, [&](size_t plain, size_t sliced, size_t n) {
    if (plain / group_bytes == static_cast<size_t>(g)) {
      std::memcpy(scratch + plain - g * group_bytes, panel + sliced, n);
    }
  });
  return scratch;
}

}  // namespace detail

namespace {

// Each group of 16 rows through a copy of itself: to (interleave) or from the layout; long rows'
// panels through a copy of the panel: to slice-major (after the groups) or back (before).
void rewrite_groups(TensorType t, int64_t n_in, int64_t n_rows, void* data, bool interleave) {
  DKB_CHECK(interleave_supported(t, n_in, n_rows));
  const size_t group = tensor_row_size(t, n_in) * detail::kInterleaveRows;
  const detail::IlvSlicing sl = detail::ilv_slicing(t, n_in);
  const int64_t ng = n_rows / detail::kInterleaveRows;
  const int64_t nb = n_in / tensor_type_traits(t)->block_size;
  const int64_t panel = sl.slice_blocks > 0 ? sl.panel_groups : 1;
  std::vector<uint8_t> tmp(group * static_cast<size_t>(panel));
  auto* data8 = static_cast<uint8_t*>(data);
  for (int64_t g0 = 0; g0 < ng; g0 += panel) {
    const int64_t p = std::min(panel, ng - g0);
    uint8_t* pp = data8 + g0 * group;
    auto slice = [&](bool to_sliced) {
      if (sl.slice_blocks == 0) return;
      std::memcpy(tmp.data(), pp, group * p);
      detail::for_each_piece(sl, p, nb, group / nb, [&](size_t plain, size_t sliced, size_t n) {
        if (to_sliced) {
          std::memcpy(pp + sliced, tmp.data() + plain, n);
        } else {
          std::memcpy(pp + plain, tmp.data() + sliced, n);
        }
      });
    };
    if (!interleave) slice(false);
    for (int64_t g = 0; g < p; ++g) {
      uint8_t* gp = pp + g * group;
      std::memcpy(tmp.data(), gp, group);
      if (interleave) {
        detail::interleave_group(t, n_in, tmp.data(), gp);
      } else {
        detail::deinterleave_group(t, n_in, tmp.data(), gp);
      }
    }
    if (interleave) slice(true);
  }
}

}  // namespace

void interleave_rows(TensorType t, int64_t n_in, int64_t n_rows, void* data) {
  rewrite_groups(t, n_in, n_rows, data, true);
}

void deinterleave_rows(TensorType t, int64_t n_in, int64_t n_rows, void* data) {
  rewrite_groups(t, n_in, n_rows, data, false);
}

}  // namespace dkb::kernels
