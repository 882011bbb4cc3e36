// KvCache: per-sequence key/value memory, f32, contiguous per layer.
//
// Layer l holds k rows [n_ctx][k_dim] and v rows [n_ctx][v_dim]; row p is position p. What a
// "row" means is the architecture's choice (full K/V for llama; the compressed latent for
// deepseek2 MLA). Memory per token = n_layer * (k_dim + v_dim) * 4 bytes.
// Owned by one Context; not thread-safe (the scheduler thread owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dkb::engine {

struct KvShape {
  int64_t n_layer = 0;
  int64_t k_dim = 0;  // floats per position per layer
  int64_t v_dim = 0;
};

class KvCache {
 public:
  KvCache() = default;
  KvCache(const KvShape& shape, int64_t n_ctx);

  int64_t n_ctx() const { return n_ctx_; }
  const KvShape& shape() const { return shape_; }
  float* k(int64_t layer, int64_t pos) { return k_[layer].data() + pos * shape_.k_dim; }
  float* v(int64_t layer, int64_t pos) { return v_[layer].data() + pos * shape_.v_dim; }
  size_t bytes() const;

 private:
  KvShape shape_;
  int64_t n_ctx_ = 0;
  std::vector<std::vector<float>> k_, v_;
};

}  // namespace dkb::engine
