// Weight: a read-only view of one tensor inside the model's mmap'd GGUF file.
// WeightLoader fetches tensors by name with shape checks so a file that does not match
// its architecture fails at load time with a message naming the tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor_type.h"
#include "gguf/gguf.h"

namespace dkb::engine {

struct Weight {
  TensorType type = TensorType::kF32;
  std::vector<int64_t> ne;      // ggml order: ne[0] = row length
  const void* data = nullptr;   // null when the tensor is absent (optional weights)
  size_t n_bytes = 0;

  explicit operator bool() const { return data != nullptr; }
  int64_t rows() const { return ne.size() < 2 ? 1 : ne[1] * (ne.size() > 2 ? ne[2] : 1); }
  size_t row_bytes() const { return tensor_row_size(type, ne[0]); }
  const float* f32() const { return static_cast<const float*>(data); }
};

class WeightLoader {
 public:
  explicit WeightLoader(const gguf::File& file) : file_(file) {}
  // The tensor `name` with exactly the shape `ne` (trailing 1s ignored).
  Result<Weight> require(const std::string& name, std::vector<int64_t> ne) const;
  // Like require() but an absent tensor yields an empty Weight.
  Result<Weight> optional(const std::string& name, std::vector<int64_t> ne) const;
  // Requires a 1-D F32 tensor (norm weights, biases) of n elements.
  Result<Weight> require_f32(const std::string& name, int64_t n) const;
  Result<Weight> optional_f32(const std::string& name, int64_t n) const;
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

 private:
  const gguf::File& file_;
};

}  // namespace dkb::engine
