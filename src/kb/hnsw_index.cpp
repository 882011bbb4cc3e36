// The one translation unit that includes hnswlib: its 0.6 header defines non-inline
// functions (cpuid, AVXCapable), so a second includer would not link.
#include "kb/hnsw_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <cstring>
#include <limits>
#include <new>
#include <queue>

#include "kb/id_bitmap.h"

namespace dkb::kb {

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::tableint;

struct HnswVectorIndex::Impl {
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<Graph> graph;
};

namespace {

std::unique_ptr<hnswlib::SpaceInterface<float>> make_space(Metric metric, uint32_t dim) {
  if (metric == Metric::kL2) return std::make_unique<hnswlib::L2Space>(dim);
  return std::make_unique<hnswlib::InnerProductSpace>(dim);
}

// hnswlib distance → our higher-is-better score.
float to_score(Metric metric, float dist) { return metric == Metric::kL2 ? -dist : 1.0f - dist; }

bool better(const VectorHit& a, const VectorHit& b) {
  return a.score != b.score ? a.score > b.score : a.id < b.id;
}

using MaxHeap = std::priority_queue<std::pair<float, tableint>>;                 // worst on top
using MinHeap = std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>,
                                    std::greater<>>;                             // closest on top

}  // namespace

HnswVectorIndex::HnswVectorIndex(uint32_t dimension, Metric metric, const HnswParams& params,
                                 size_t capacity)
    : dim_(dimension), metric_(metric), params_(params), impl_(std::make_unique<Impl>()) {
  impl_->space = make_space(metric, dimension);
  impl_->graph = std::make_unique<Graph>(impl_->space.get(), std::max<size_t>(capacity, 16),
                                         params.m, params.ef_construction, params.seed);
  impl_->graph->setEf(params.ef_search);
}

HnswVectorIndex::~HnswVectorIndex() = default;

size_t HnswVectorIndex::size() const {
  return impl_->graph->cur_element_count - impl_->graph->num_deleted_;
}

size_t HnswVectorIndex::deleted_slots() const { return impl_->graph->num_deleted_; }

void HnswVectorIndex::set_search_params(size_t ef_search, double max_filter_widening) {
  params_.ef_search = ef_search;
  params_.max_filter_widening = max_filter_widening;
  impl_->graph->setEf(ef_search);
}

bool HnswVectorIndex::contains(int64_t id) const {
  const Graph& g = *impl_->graph;
  auto it = g.label_lookup_.find(static_cast<hnswlib::labeltype>(id));
  return it != g.label_lookup_.end() && !g.isMarkedDeleted(it->second);
}

Status HnswVectorIndex::add(int64_t id, std::span<const float> vector) {
  if (vector.size() != dim_) {
    return invalid_argument("vector dimension " + std::to_string(vector.size()) +
                            " != index dimension " + std::to_string(dim_));
  }
  std::vector<float> v(vector.begin(), vector.end());
  if (metric_ == Metric::kCosine) normalize_vector(v);
  Graph& g = *impl_->graph;
  auto label = static_cast<hnswlib::labeltype>(id);
  try {
    if (g.label_lookup_.find(label) == g.label_lookup_.end() &&
        g.cur_element_count >= g.max_elements_) {
      g.resizeIndex(std::max<size_t>(g.max_elements_ * 2, 1024));
    }
    g.addPoint(v.data(), label);
  } catch (const std::bad_alloc&) {
    return resource_exhausted("out of memory growing the vector index");
  } catch (const std::exception& e) {
    return resource_exhausted(std::string("vector index: ") + e.what());
  }
  return Status::ok();
}

Status HnswVectorIndex::add_batch(std::span<const int64_t> ids, std::span<const float> data,
                                  size_t n_threads) {
  if (data.size() != ids.size() * dim_) return invalid_argument("add_batch: data size != ids × dimension");
  Graph& g = *impl_->graph;
  try {
    if (g.cur_element_count + ids.size() > g.max_elements_) {
      g.resizeIndex(g.cur_element_count + ids.size());
    }
  } catch (const std::exception& e) {
    return resource_exhausted(std::string("vector index: ") + e.what());
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    std::vector<float> v(dim_);
    for (size_t i; (i = next.fetch_add(1)) < ids.size() && !failed.load();) {
      std::copy_n(data.begin() + static_cast<ptrdiff_t>(i * dim_), dim_, v.begin());
      if (metric_ == Metric::kCosine) normalize_vector(v);
      try {
        g.addPoint(v.data(), static_cast<hnswlib::labeltype>(ids[i]));
      } catch (const std::exception&) {
        failed.store(true);
      }
    }
  };
  n_threads = std::max<size_t>(1, std::min(n_threads, ids.size() / 256 + 1));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (failed.load()) return resource_exhausted("vector index: bulk insert failed");
  return Status::ok();
}

void HnswVectorIndex::remove(int64_t id) {
  Graph& g = *impl_->graph;
  auto it = g.label_lookup_.find(static_cast<hnswlib::labeltype>(id));
  if (it != g.label_lookup_.end() && !g.isMarkedDeleted(it->second)) g.markDeletedInternal(it->second);
}

void HnswVectorIndex::for_each(
    const std::function<void(int64_t, std::span<const float>)>& fn) const {
  const Graph& g = *impl_->graph;
  for (tableint i = 0; i < g.cur_element_count; ++i) {
    if (g.isMarkedDeleted(i)) continue;
    const auto* data = reinterpret_cast<const float*>(g.getDataByInternalId(i));
    fn(static_cast<int64_t>(g.getExternalLabel(i)), std::span<const float>(data, dim_));
  }
}

std::vector<std::pair<float, int64_t>> HnswVectorIndex::raw_knn(std::span<const float> query,
                                                                size_t k) const {
  auto res = impl_->graph->searchKnn(query.data(), k);
  std::vector<std::pair<float, int64_t>> out(res.size());
  for (size_t i = out.size(); i-- > 0; res.pop()) {
    out[i] = {to_score(metric_, res.top().first), static_cast<int64_t>(res.top().second)};
  }
  return out;
}

Result<std::vector<VectorHit>> HnswVectorIndex::exact_search(std::span<const float> q, size_t k,
                                                             const IdFilter& filter) const {
  const Graph& g = *impl_->graph;
  std::vector<VectorHit> hits;
  auto consider = [&](tableint internal) {
    if (g.isMarkedDeleted(internal)) return;
    auto id = static_cast<int64_t>(g.getExternalLabel(internal));
    if (!filter.accepts(id)) return;
    float d = g.fstdistfunc_(q.data(), g.getDataByInternalId(internal), g.dist_func_param_);
    hits.push_back({id, to_score(metric_, d)});
  };
  if (filter.allow != nullptr) {
    for (int64_t id : *filter.allow) {
      auto it = g.label_lookup_.find(static_cast<hnswlib::labeltype>(id));
      if (it != g.label_lookup_.end()) consider(it->second);
    }
  } else {
    for (tableint i = 0; i < g.cur_element_count; ++i) consider(i);
  }
  size_t n = std::min(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<ptrdiff_t>(n), hits.end(), better);
  hits.resize(n);
  return hits;
}

Result<std::vector<VectorHit>> HnswVectorIndex::search(std::span<const float> query, size_t k,
                                                       const IdFilter& filter) const {
  if (query.size() != dim_) {
    return invalid_argument("query dimension " + std::to_string(query.size()) +
                            " != index dimension " + std::to_string(dim_));
  }
  std::vector<float> q(query.begin(), query.end());
  if (metric_ == Metric::kCosine) normalize_vector(q);
  const Graph& g = *impl_->graph;
  const size_t live = size();
  if (k == 0 || live == 0) return std::vector<VectorHit>{};
  size_t candidates = filter.allow ? std::min(filter.allow->size(), live) : live;
  if (candidates == 0) return std::vector<VectorHit>{};
  if (filter.allow != nullptr &&
      (candidates <= params_.exact_below_count ||
       static_cast<double>(candidates) < params_.exact_below_fraction * static_cast<double>(live))) {
    return exact_search(q, k, filter);
  }
  const bool filtered = filter.allow != nullptr || !filter.exclude.empty();
  // The beam holds accepted nodes only, so a filtered walk already covers more of the graph
  // the more the filter rejects; max_filter_widening may widen it further (HnswParams).
  size_t ef = std::max(params_.ef_search, k);
  if (filter.allow != nullptr) {
    double widen = std::min(params_.max_filter_widening,
                            static_cast<double>(live) / static_cast<double>(candidates));
    ef = static_cast<size_t>(static_cast<double>(ef) * std::max(1.0, widen));
  }

  // Greedy descent through the upper layers (as hnswlib's searchKnn).
  tableint cur = g.enterpoint_node_;
  float cur_dist = g.fstdistfunc_(q.data(), g.getDataByInternalId(cur), g.dist_func_param_);
  for (int level = g.maxlevel_; level > 0; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      auto* data = reinterpret_cast<unsigned int*>(g.get_linklist(cur, level));
      int n = g.getListCount(data);
      auto* links = reinterpret_cast<tableint*>(data + 1);
      for (int i = 0; i < n; ++i) {
        float d = g.fstdistfunc_(q.data(), g.getDataByInternalId(links[i]), g.dist_func_param_);
        if (d < cur_dist) {
          cur_dist = d;
          cur = links[i];
          changed = true;
        }
      }
    }
  }
  // Base layer beam search: every node is a stepping stone, only accepted live nodes enter
  // the result heap (searchBaseLayerST<has_deletions> with a filter).
  // The walk tests every node it reaches: O(1) membership, where a binary search of a
  // 100K-id allow-list per node cost about as much as the distances.
  IdBitmap allow_bits;
  if (filter.allow != nullptr) allow_bits = IdBitmap(*filter.allow);
  auto accept = [&](tableint i) {
    if (g.isMarkedDeleted(i)) return false;
    if (!filtered) return true;
    auto id = static_cast<int64_t>(g.getExternalLabel(i));
    return (filter.allow == nullptr || allow_bits.contains(id)) && !filter.excluded(id);
  };
  hnswlib::VisitedList* vl = g.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* visited = vl->mass;
  hnswlib::vl_type tag = vl->curV;
  MaxHeap top;
  MinHeap frontier;
  float lower_bound = std::numeric_limits<float>::max();
  if (accept(cur)) {
    top.emplace(cur_dist, cur);
    lower_bound = cur_dist;
  }
  frontier.emplace(cur_dist, cur);
  visited[cur] = tag;
  while (!frontier.empty()) {
    auto [dist, node] = frontier.top();
    if (dist > lower_bound && top.size() == ef) break;
    frontier.pop();
    auto* data = reinterpret_cast<unsigned int*>(g.get_linklist0(node));
    size_t n = g.getListCount(data);
    auto* links = reinterpret_cast<tableint*>(data + 1);
    // Prefetch one neighbour ahead, as hnswlib's own loop does: the walk is memory-bound.
    if (n > 0) {
      __builtin_prefetch(visited + links[0]);
      __builtin_prefetch(g.getDataByInternalId(links[0]));
    }
    for (size_t j = 0; j < n; ++j) {
      tableint cand = links[j];
      if (j + 1 < n) {
        __builtin_prefetch(visited + links[j + 1]);
        __builtin_prefetch(g.getDataByInternalId(links[j + 1]));
      }
      if (visited[cand] == tag) continue;
      visited[cand] = tag;
      float d = g.fstdistfunc_(q.data(), g.getDataByInternalId(cand), g.dist_func_param_);
      if (top.size() < ef || d < lower_bound) {
        frontier.emplace(d, cand);
        if (accept(cand)) {
          top.emplace(d, cand);
          if (top.size() > ef) top.pop();
          lower_bound = top.top().first;
        }
      }
    }
  }
  g.visited_list_pool_->releaseVisitedList(vl);

  std::vector<VectorHit> hits;
  hits.reserve(top.size());
  for (; !top.empty(); top.pop()) {
    hits.push_back({static_cast<int64_t>(g.getExternalLabel(top.top().second)),
                    to_score(metric_, top.top().first)});
  }
  std::sort(hits.begin(), hits.end(), better);
  if (hits.size() > k) hits.resize(k);
  // A filter that cut the graph into pieces the walk could not reach: answer exactly.
  if (filtered && hits.size() < std::min(k, candidates)) return exact_search(q, k, filter);
  return hits;
}

// Payload layout (hnswlib 0.6 saveIndex order, max_elements written as the element count):
//   size_t offsetLevel0, max_elements, cur_element_count, size_data_per_element,
//          label_offset, offsetData; int maxlevel; tableint enterpoint_node;
//   size_t maxM, maxM0, M; double mult; size_t ef_construction;
//   level-0 block: cur_element_count × size_data_per_element bytes (links, vector, label);
//   per element: u32 link_bytes, then link_bytes of upper-level link lists.
Status HnswVectorIndex::save(const std::string& path, uint64_t generation,
                             int64_t collection_id) const {
  const Graph& g = *impl_->graph;
  IndexFileHeader h;
  h.dimension = dim_;
  h.metric = metric_;
  h.count = size();
  h.generation = generation;
  h.collection_id = collection_id;
  return write_index_file(path, h, [&](IndexFileWriter& w) -> Status {
    size_t n = g.cur_element_count;
    for (size_t v : {g.offsetLevel0_, n, n, g.size_data_per_element_, g.label_offset_,
                     g.offsetData_}) {
      DKB_RETURN_IF_ERROR(w.write_pod(v));
    }
    DKB_RETURN_IF_ERROR(w.write_pod(g.maxlevel_));
    DKB_RETURN_IF_ERROR(w.write_pod(g.enterpoint_node_));
    for (size_t v : {g.maxM_, g.maxM0_, g.M_}) DKB_RETURN_IF_ERROR(w.write_pod(v));
    DKB_RETURN_IF_ERROR(w.write_pod(g.mult_));
    DKB_RETURN_IF_ERROR(w.write_pod(g.ef_construction_));
    DKB_RETURN_IF_ERROR(w.write(g.data_level0_memory_, n * g.size_data_per_element_));
    for (size_t i = 0; i < n; ++i) {
      auto bytes = static_cast<uint32_t>(
          g.element_levels_[i] > 0 ? g.size_links_per_element_ * g.element_levels_[i] : 0);
      DKB_RETURN_IF_ERROR(w.write_pod(bytes));
      if (bytes) DKB_RETURN_IF_ERROR(w.write(g.linkLists_[i], bytes));
    }
    return Status::ok();
  });
}

Result<std::unique_ptr<HnswVectorIndex>> HnswVectorIndex::load(const std::string& path,
                                                               const HnswParams& params,
                                                               IndexFileHeader* header_out) {
  std::unique_ptr<HnswVectorIndex> index;
  auto parse = [&](const IndexFileHeader& h, IndexFileReader& r) -> Status {
    if (h.kind != kIndexKindHnsw) return corruption("not an HNSW index file");
    if (h.dimension == 0 || h.dimension > 65536) return corruption("bad dimension in index file");
    size_t off0, max_el, n, per_el, label_off, data_off, max_m, max_m0, m, efc;
    int maxlevel;
    tableint entry;
    double mult;
    for (size_t* v : {&off0, &max_el, &n, &per_el, &label_off, &data_off}) {
      DKB_RETURN_IF_ERROR(r.read_pod(*v));
    }
    DKB_RETURN_IF_ERROR(r.read_pod(maxlevel));
    DKB_RETURN_IF_ERROR(r.read_pod(entry));
    for (size_t* v : {&max_m, &max_m0, &m}) DKB_RETURN_IF_ERROR(r.read_pod(*v));
    DKB_RETURN_IF_ERROR(r.read_pod(mult));
    DKB_RETURN_IF_ERROR(r.read_pod(efc));
    if (m < 2 || m > 1024 || max_m != m || max_m0 != 2 * m || efc > 1 << 20) {
      return corruption("implausible HNSW parameters");
    }
    HnswParams p = params;
    p.m = m;
    p.ef_construction = efc;
    auto idx = std::make_unique<HnswVectorIndex>(h.dimension, h.metric, p, std::max<size_t>(n, 16));
    Graph& g = *idx->impl_->graph;
    if (off0 != 0 || per_el != g.size_data_per_element_ || label_off != g.label_offset_ ||
        data_off != g.offsetData_ || n * per_el > r.left() || maxlevel < -1 || maxlevel > 64 ||
        (n > 0 && entry >= n) || (n == 0 && maxlevel != -1)) {
      return corruption("HNSW graph header does not match its dimension");
    }
    DKB_RETURN_IF_ERROR(r.read(g.data_level0_memory_, n * per_el));
    size_t deleted = 0;
    for (size_t i = 0; i < n; ++i) {
      auto* l0 = reinterpret_cast<unsigned int*>(g.get_linklist0(static_cast<tableint>(i)));
      size_t cnt = g.getListCount(l0);
      if (cnt > g.maxM0_) return corruption("HNSW level-0 link list too long");
      auto* links = reinterpret_cast<tableint*>(l0 + 1);
      for (size_t j = 0; j < cnt; ++j) {
        if (links[j] >= n) return corruption("HNSW link points outside the graph");
      }
      if (g.isMarkedDeleted(static_cast<tableint>(i))) ++deleted;
      g.label_lookup_[g.getExternalLabel(static_cast<tableint>(i))] = static_cast<tableint>(i);
    }
    if (g.label_lookup_.size() != n) return corruption("HNSW index has duplicate labels");
    for (size_t i = 0; i < n; ++i) {
      uint32_t bytes;
      DKB_RETURN_IF_ERROR(r.read_pod(bytes));
      if (bytes % g.size_links_per_element_ != 0 ||
          bytes / g.size_links_per_element_ > static_cast<size_t>(std::max(maxlevel, 0))) {
        return corruption("HNSW upper-level link list has a bad size");
      }
      if (bytes == 0) {
        g.linkLists_[i] = nullptr;
        continue;
      }
      g.linkLists_[i] = static_cast<char*>(malloc(bytes));
      if (g.linkLists_[i] == nullptr) return resource_exhausted("out of memory loading index");
      g.element_levels_[i] = static_cast<int>(bytes / g.size_links_per_element_);
      g.cur_element_count = i + 1;  // the destructor frees linkLists_ up to here
      DKB_RETURN_IF_ERROR(r.read(g.linkLists_[i], bytes));
      for (int level = 1; level <= g.element_levels_[i]; ++level) {
        auto* ll = reinterpret_cast<unsigned int*>(g.get_linklist(static_cast<tableint>(i), level));
        size_t cnt = g.getListCount(ll);
        auto* links = reinterpret_cast<tableint*>(ll + 1);
        if (cnt > g.maxM_) return corruption("HNSW link list too long");
        for (size_t j = 0; j < cnt; ++j) {
          if (links[j] >= n) return corruption("HNSW link points outside the graph");
        }
      }
    }
    g.cur_element_count = n;
    g.maxlevel_ = maxlevel;
    g.enterpoint_node_ = n > 0 ? entry : static_cast<tableint>(-1);
    g.num_deleted_ = deleted;
    if (n - deleted != h.count) return corruption("index file count does not match its graph");
    index = std::move(idx);
    return Status::ok();
  };
  DKB_ASSIGN_OR_RETURN(IndexFileHeader h, read_index_file(path, parse));
  if (header_out) *header_out = h;
  return index;
}

}  // namespace dkb::kb
