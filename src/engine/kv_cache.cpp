#include "engine/kv_cache.h"

namespace dkb::engine {

KvCache::KvCache(const KvShape& shape, int64_t n_ctx) : shape_(shape), n_ctx_(n_ctx) {
  k_.resize(shape.n_layer);
  v_.resize(shape.n_layer);
  for (int64_t l = 0; l < shape.n_layer; ++l) {
    k_[l].assign(static_cast<size_t>(n_ctx * shape.k_dim), 0.0f);
    v_[l].assign(static_cast<size_t>(n_ctx * shape.v_dim), 0.0f);
  }
}

size_t KvCache::bytes() const {
  return static_cast<size_t>(shape_.n_layer * n_ctx_ * (shape_.k_dim + shape_.v_dim)) *
         sizeof(float);
}

}  // namespace dkb::engine
