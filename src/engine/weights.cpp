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

Result<Weight> WeightLoader::optional(const std::string& name, std::vector<int64_t> ne) const {
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

Result<Weight> WeightLoader::require(const std::string& name, std::vector<int64_t> ne) const {
  if (!file_.find_tensor(name)) return invalid_argument("missing tensor '" + name + "'");
  return optional(name, std::move(ne));
}

Result<Weight> WeightLoader::optional_f32(const std::string& name, int64_t n) const {
  DKB_ASSIGN_OR_RETURN(Weight w, optional(name, {n}));
  if (w && w.type != TensorType::kF32) {
    return invalid_argument("tensor '" + name + "' must be f32, is " +
                            std::string(tensor_type_name(w.type)));
  }
  return w;
}

Result<Weight> WeightLoader::require_f32(const std::string& name, int64_t n) const {
  if (!file_.find_tensor(name)) return invalid_argument("missing tensor '" + name + "'");
  return optional_f32(name, n);
}

}  // namespace dkb::engine
