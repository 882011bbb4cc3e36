#include "kb/vector_index.h"

#include <algorithm>
#include <cmath>
#include <queue>

namespace dkb::kb {
namespace {

float dot(std::span<const float> a, std::span<const float> b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

void normalize_vector(std::span<float> v) {
  double n = 0;
  for (float x : v) n += double{x} * x;
  if (n <= 0) return;
  float inv = static_cast<float>(1.0 / std::sqrt(n));
  for (float& x : v) x *= inv;
}

bool IdFilter::accepts(int64_t id) const {
  if (allow != nullptr && !std::binary_search(allow->begin(), allow->end(), id)) return false;
  return !excluded(id);
}

float similarity(std::span<const float> a, std::span<const float> b, Metric metric) {
  switch (metric) {
    case Metric::kInnerProduct:
      return dot(a, b);
    case Metric::kL2: {
      float s = 0;
      for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
      return -s;
    }
    case Metric::kCosine: {
      float na = dot(a, a), nb = dot(b, b);
      if (na <= 0 || nb <= 0) return 0;
      return dot(a, b) / std::sqrt(na * nb);
    }
  }
  return 0;
}

Status ExactVectorIndex::add(int64_t id, std::span<const float> vector) {
  if (vector.size() != dim_) {
    return invalid_argument("vector dimension " + std::to_string(vector.size()) +
                            " != index dimension " + std::to_string(dim_));
  }
  size_t row;
  auto it = row_.find(id);
  if (it != row_.end()) {
    row = it->second;
  } else {
    row = ids_.size();
    ids_.push_back(id);
    data_.resize(data_.size() + dim_);
    row_.emplace(id, row);
  }
  std::span<float> dst(data_.data() + row * dim_, dim_);
  std::copy(vector.begin(), vector.end(), dst.begin());
  if (metric_ == Metric::kCosine) normalize_vector(dst);
  return Status::ok();
}

void ExactVectorIndex::reserve(size_t n) {
  ids_.reserve(n);
  data_.reserve(n * dim_);
  row_.reserve(n);
}

void ExactVectorIndex::remove(int64_t id) {
  auto it = row_.find(id);
  if (it == row_.end()) return;
  size_t row = it->second, last = ids_.size() - 1;
  if (row != last) {  // move the last row into the hole
    std::copy_n(data_.begin() + static_cast<ptrdiff_t>(last * dim_), dim_,
                data_.begin() + static_cast<ptrdiff_t>(row * dim_));
    ids_[row] = ids_[last];
    row_[ids_[row]] = row;
  }
  ids_.pop_back();
  data_.resize(data_.size() - dim_);
  row_.erase(it);
}

float ExactVectorIndex::score(std::span<const float> q, size_t row) const {
  std::span<const float> v(data_.data() + row * dim_, dim_);
  if (metric_ == Metric::kL2) return similarity(q, v, Metric::kL2);
  return dot(q, v);  // cosine: both sides already normalized
}

void ExactVectorIndex::for_each(
    const std::function<void(int64_t, std::span<const float>)>& fn) const {
  for (size_t row = 0; row < ids_.size(); ++row) {
    fn(ids_[row], std::span<const float>(data_.data() + row * dim_, dim_));
  }
}

Result<std::vector<VectorHit>> ExactVectorIndex::search(std::span<const float> query, size_t k,
                                                        const IdFilter& filter) const {
  const std::vector<int64_t>* allow = filter.allow;
  if (query.size() != dim_) {
    return invalid_argument("query dimension " + std::to_string(query.size()) +
                            " != index dimension " + std::to_string(dim_));
  }
  std::vector<float> q(query.begin(), query.end());
  if (metric_ == Metric::kCosine) normalize_vector(q);
  // Min-heap of the best k: worst on top.
  auto worse = [](const VectorHit& a, const VectorHit& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  };
  std::priority_queue<VectorHit, std::vector<VectorHit>, decltype(worse)> heap(worse);
  auto consider = [&](int64_t id, size_t row) {
    VectorHit h{id, score(q, row)};
    if (heap.size() < k) {
      heap.push(h);
    } else if (worse(h, heap.top())) {
      heap.pop();
      heap.push(h);
    }
  };
  if (k == 0) return std::vector<VectorHit>{};
  if (allow != nullptr) {
    for (int64_t id : *allow) {
      auto it = row_.find(id);
      if (it != row_.end() && !filter.excluded(id)) consider(id, it->second);
    }
  } else {
    for (size_t row = 0; row < ids_.size(); ++row) {
      if (!filter.excluded(ids_[row])) consider(ids_[row], row);
    }
  }
  std::vector<VectorHit> out;
  out.reserve(heap.size());
  while (!heap.empty()) {
    out.push_back(heap.top());
    heap.pop();
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace dkb::kb
