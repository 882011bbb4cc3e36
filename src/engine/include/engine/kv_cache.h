// The KV cache interface the architectures see: KvShape (what one position stores per layer)
// and KvView (one sequence's positions, stored in pages of a KvPool).
//
// What a "row" means is the architecture's choice (full K/V for llama/qwen2; the compressed
// latent for deepseek2 MLA), and so is the element type: f32, or IEEE half (f16, llama.cpp's
// default cache type: half the memory, and half the bytes attention reads at depth). Memory per
// position = n_layer * (k_dim + v_dim) * 4 bytes (f32) or * 2 (f16).
// Position p of a sequence lives in page pages[p / page_size], row p % page_size; pages are
// allocated and shared by engine::KvPool / KvSequence (kv_pool.h, kv_sequence.h). A view is a
// borrowed window valid while its sequence does not change its page table; it owns nothing.
//
// A row of n_heads KV heads (k_dim = n_heads * head dim) is stored head-major within its page:
// per layer, a page holds head 0's page_size rows, then head 1's, ... So a thread attending with
// one KV head reads contiguous memory (rows side by side, each thread reading its head's part of
// every row, ran ~2.3x slower over a cache larger than L3: the two cores' prefetchers fetched
// each other's halves).
#pragma once

#include <cstdint>
#include <cstring>

#include "base/status.h"
#include "kernels/kernels.h"

namespace dkb::engine {

struct KvShape {
  int64_t n_layer = 0;
  int64_t k_dim = 0;  // elements per position per layer
  int64_t v_dim = 0;
  int64_t n_heads = 1;  // KV heads a row holds (k_dim and v_dim multiples of it)
  bool f16 = false;     // elements are IEEE half floats (else f32)
  // The architecture can keep f16 rows (llama, qwen2, deepseek2's latent rows; not bert, which
  // has no cache).
  bool f16_capable = false;

  size_t element_bytes() const { return f16 ? 2 : 4; }
  // This shape with f16 rows when asked for and capable, else f32.
  KvShape with_f16(bool want) const {
    KvShape s = *this;
    s.f16 = want && f16_capable;
    return s;
  }
};

struct KvView {
  uint8_t* const* k_layers = nullptr;  // [n_layer]: layer l's K rows of page 0 in the pool
  uint8_t* const* v_layers = nullptr;  // [n_layer]
  int64_t k_dim = 0, v_dim = 0;
  int64_t n_heads = 1;               // KV heads per row, stored head-major within a page
  int64_t page_size = 0;             // positions per page
  const int32_t* pages = nullptr;    // the sequence's page table
  int64_t n_pages = 0;
  bool f16 = false;  // KvShape::f16

  // f32 caches only (DKB_CHECK): head h's part of the row of position pos in layer l (dim /
  // n_heads floats); pos < n_pages * page_size. With one head (MLA's latent), the whole row.
  float* k(int64_t l, int64_t pos, int64_t h = 0) const {
    DKB_CHECK(!f16);
    return reinterpret_cast<float*>(at(k_layers[l], k_dim, pos, h));
  }
  float* v(int64_t l, int64_t pos, int64_t h = 0) const {
    DKB_CHECK(!f16);
    return reinterpret_cast<float*>(at(v_layers[l], v_dim, pos, h));
  }
  // Stores a position's whole K (k_dim floats, head after head) or V row (f16: rounded to
  // nearest even, as llama.cpp stores its f16 cache).
  void write_k(int64_t l, int64_t pos, const float* row) const { write(k_layers[l], k_dim, pos, row); }
  void write_v(int64_t l, int64_t pos, const float* row) const { write(v_layers[l], v_dim, pos, row); }
  // The K or V row of position pos as floats (out: k_dim or v_dim of them, head after head).
  void read_k(int64_t l, int64_t pos, float* out) const { read(k_layers[l], k_dim, pos, out); }
  void read_v(int64_t l, int64_t pos, float* out) const { read(v_layers[l], v_dim, pos, out); }
  // Points a's k, v (f16: k16, v16), page and stride fields at layer l (attention streams over
  // the pages in place).
  void set_attention_kv(int64_t l, kernels::AttentionArgs& a) const {
    if (f16) {
      a.k16 = reinterpret_cast<const uint16_t*>(k_layers[l]);
      a.v16 = reinterpret_cast<const uint16_t*>(v_dim > 0 ? v_layers[l] : k_layers[l]);
    } else {
      a.k = reinterpret_cast<const float*>(k_layers[l]);
      a.v = v_dim > 0 ? reinterpret_cast<const float*>(v_layers[l]) : nullptr;
    }
    a.page_table = pages;
    a.page_size = page_size;
    a.k_page_stride = page_size * k_dim;
    a.v_page_stride = page_size * v_dim;
    a.k_row_stride = k_dim / n_heads;
    a.v_row_stride = v_dim / n_heads;
    a.k_head_stride = page_size * (k_dim / n_heads);
    a.v_head_stride = page_size * (v_dim / n_heads);
  }

 private:
  uint8_t* at(uint8_t* base, int64_t dim, int64_t pos, int64_t h) const {
    const int64_t hd = dim / n_heads;
    const int64_t e =
        pages[pos / page_size] * page_size * dim + (h * page_size + pos % page_size) * hd;
    return base + e * static_cast<int64_t>(f16 ? 2 : 4);
  }
  void write(uint8_t* base, int64_t dim, int64_t pos, const float* row) const {
    const int64_t hd = dim / n_heads;
    for (int64_t h = 0; h < n_heads; ++h) {
      if (f16) {
        kernels::quantize_row(TensorType::kF16, row + h * hd, at(base, dim, pos, h), hd);
      } else {
        std::memcpy(at(base, dim, pos, h), row + h * hd, static_cast<size_t>(hd) * sizeof(float));
      }
    }
  }
  void read(uint8_t* base, int64_t dim, int64_t pos, float* out) const {
    const int64_t hd = dim / n_heads;
    for (int64_t h = 0; h < n_heads; ++h) {
      if (f16) {
        kernels::dequantize_row(TensorType::kF16, at(base, dim, pos, h), out + h * hd, hd);
      } else {
        std::memcpy(out + h * hd, at(base, dim, pos, h), static_cast<size_t>(hd) * sizeof(float));
      }
    }
  }
};

}  // namespace dkb::engine
