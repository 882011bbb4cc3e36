#include "engine/weights.h"

#include <sstream>

namespace dkb::engine {
namespace {

std::string shape_str(const std::vector<int64_t>& ne) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < ne.size(); ++i) s << (i ? ", " : "") << ne[i];
  s << "]";
  return s.str();
}

std::vector<int64_t> trimmed(std::vector<int64_t> ne) {
  while (ne.size() > 1 && ne.back() == 1) ne.pop_back();
  return ne;
}

}  // namespace

Result<Weight> WeightLoader::find(const std::string& name, const std::vector<int64_t>& ne) const {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (!t) return Weight{};
  if (trimmed(t->ne) != trimmed(ne)) {
    return invalid_argument("tensor '" + name + "' has shape " + shape_str(t->ne) + ", expected " +
                            shape_str(ne));
  }
  Weight w;
  w.type = t->type;
  w.ne = t->ne;
  w.data = t->data;
  w.n_bytes = t->n_bytes;
  return w;
}

Result<Weight> WeightLoader::optional(const std::string& name, std::vector<int64_t> ne) {
  if (as_interleaved_.count(name)) {
    return failed_precondition("tensor '" + name + "' was reordered for matmul; it has no rows");
  }
  DKB_ASSIGN_OR_RETURN(Weight w, find(name, ne));
  if (w) as_rows_.insert(name);
  return w;
}

Result<Weight> WeightLoader::require(const std::string& name, std::vector<int64_t> ne) {
  if (!file_.find_tensor(name)) return invalid_argument("missing tensor '" + name + "'");
  return optional(name, std::move(ne));
}

Result<Weight> WeightLoader::optional_matrix(const std::string& name, std::vector<int64_t> ne) {
  DKB_ASSIGN_OR_RETURN(Weight w, find(name, ne));
  if (!w) return w;
  if (as_interleaved_.count(name)) {
    w.layout = kernels::WeightLayout::kInterleaved16;
    return w;
  }
  const int64_t n_in = w.ne[0], n_out = w.ne.size() > 1 ? w.ne[1] : 1;
  // Per 2-D slice (an expert's rows stay whole groups), so n_out rather than all rows.
  if (!kernels::interleave_pays(w.type, n_in, n_out)) return w;
  if (as_rows_.count(name)) {
    return failed_precondition("tensor '" + name + "' is read by rows and by matmul");
  }
  uint8_t* bytes = file_.writable_tensor_data(name);
  if (bytes == nullptr) return w;  // a file map (--mmap) or a tensor quantized at load
  // One 2-D slice at a time: a matrix's layout counts its panels from its own first row.
  const size_t slice_bytes = tensor_row_size(w.type, n_in) * static_cast<size_t>(n_out);
  for (int64_t r = 0; r < w.rows(); r += n_out, bytes += slice_bytes) {
    kernels::interleave_rows(w.type, n_in, n_out, bytes);
  }
  as_interleaved_.insert(name);
  w.layout = kernels::WeightLayout::kInterleaved16;
  return w;
}

Result<Weight> WeightLoader::matrix(const std::string& name, std::vector<int64_t> ne) {
  if (!file_.find_tensor(name)) return invalid_argument("missing tensor '" + name + "'");
  return optional_matrix(name, std::move(ne));
}

Result<Weight> WeightLoader::optional_f32(const std::string& name, int64_t n) {
  DKB_ASSIGN_OR_RETURN(Weight w, optional(name, {n}));
  if (w && w.type != TensorType::kF32) {
    return invalid_argument("tensor '" + name + "' must be f32, is " +
                            std::string(tensor_type_name(w.type)));
  }
  return w;
}

Result<Weight> WeightLoader::require_f32(const std::string& name, int64_t n) {
  if (!file_.find_tensor(name)) return invalid_argument("missing tensor '" + name + "'");
  return optional_f32(name, n);
}

}  // namespace dkb::engine
