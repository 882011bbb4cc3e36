// Weight: a read-only view of one tensor inside the model's GGUF bytes (mapped or copied).
// WeightLoader fetches tensors by name with shape checks so a file that does not match
// its architecture fails at load time with a message naming the tensor.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor_type.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace dkb::engine {

struct Weight {
  TensorType type = TensorType::kF32;
  std::vector<int64_t> ne;      // ggml order: ne[0] = row length
  const void* data = nullptr;   // null when the tensor is absent (optional weights)
  size_t n_bytes = 0;
  // kInterleaved16 for a matrix the loader rewrote in place for the kernels (matrix()); only
  // matmul reads such a weight (its rows are not contiguous).
  kernels::WeightLayout layout = kernels::WeightLayout::kRows;

  explicit operator bool() const { return data != nullptr; }
  int64_t rows() const { return ne.size() < 2 ? 1 : ne[1] * (ne.size() > 2 ? ne[2] : 1); }
  size_t row_bytes() const { return tensor_row_size(type, ne[0]); }
  const float* f32() const { return static_cast<const float*>(data); }
};

class WeightLoader {
 public:
  explicit WeightLoader(gguf::File& file) : file_(file) {}
  // The tensor `name` with exactly the shape `ne` (trailing 1s ignored), in the file's row
  // layout. Errors as above, and kFailedPrecondition for a tensor matrix() has reordered.
  Result<Weight> require(const std::string& name, std::vector<int64_t> ne);
  // Like require() but an absent tensor yields an empty Weight.
  Result<Weight> optional(const std::string& name, std::vector<int64_t> ne);
  // A weight that only matmul reads (ne = {n_in, n_out} or {n_in, n_out, experts}): like
  // require() / optional(), but where kernels::interleave_pays (the active level and type) and
  // the bytes are the model's own (File::writable_tensor_data: the default huge-page copy, or
  // weights quantized at load), rewritten in place to WeightLayout::kInterleaved16. The same
  // matrix may be asked for again (it is reordered once); kFailedPrecondition for a tensor
  // already handed out by require() / optional().
  Result<Weight> matrix(const std::string& name, std::vector<int64_t> ne);
  Result<Weight> optional_matrix(const std::string& name, std::vector<int64_t> ne);
  // Requires a 1-D F32 tensor (norm weights, biases) of n elements.
  Result<Weight> require_f32(const std::string& name, int64_t n);
  Result<Weight> optional_f32(const std::string& name, int64_t n);
  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }

 private:
  Result<Weight> find(const std::string& name, const std::vector<int64_t>& ne) const;

  gguf::File& file_;
  std::set<std::string> as_rows_;         // handed out in the row layout
  std::set<std::string> as_interleaved_;  // rewritten to kInterleaved16
};

}  // namespace dkb::engine
