// The KV cache interface the architectures see: KvShape (what one position stores per layer)
// and KvView (one sequence's positions, stored in pages of a KvPool).
//
// What a "row" means is the architecture's choice (full K/V for llama/qwen2; the compressed
// latent for deepseek2 MLA). Memory per position = n_layer * (k_dim + v_dim) * 4 bytes (f32).
// Position p of a sequence lives in page pages[p / page_size], row p % page_size; pages are
// allocated and shared by engine::KvPool / KvSequence (kv_pool.h, kv_sequence.h). A view is a
// borrowed window valid while its sequence does not change its page table; it owns nothing.
#pragma once

#include <cstdint>

#include "kernels/kernels.h"

namespace dkb::engine {

struct KvShape {
  int64_t n_layer = 0;
  int64_t k_dim = 0;  // floats per position per layer
  int64_t v_dim = 0;
};

struct KvView {
  float* const* k_layers = nullptr;  // [n_layer]: layer l's K rows of page 0 in the pool
  float* const* v_layers = nullptr;  // [n_layer]
  int64_t k_dim = 0, v_dim = 0;
  int64_t page_size = 0;             // positions per page
  const int32_t* pages = nullptr;    // the sequence's page table
  int64_t n_pages = 0;

  // Row of position pos in layer l; pos < n_pages * page_size.
  float* k(int64_t l, int64_t pos) const {
    return k_layers[l] + (pages[pos / page_size] * page_size + pos % page_size) * k_dim;
  }
  float* v(int64_t l, int64_t pos) const {
    return v_layers[l] + (pages[pos / page_size] * page_size + pos % page_size) * v_dim;
  }
  // Points a's k, v and page fields at layer l (attention streams over the pages in place).
  void set_attention_kv(int64_t l, kernels::AttentionArgs& a) const {
    a.k = k_layers[l];
    a.v = v_dim > 0 ? v_layers[l] : nullptr;
    a.page_table = pages;
    a.page_size = page_size;
    a.k_page_stride = page_size * k_dim;
    a.v_page_stride = page_size * v_dim;
  }
};

}  // namespace dkb::engine
