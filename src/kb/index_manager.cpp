#include "kb/index_manager.h"

#include "index_manager_entry.h"

#include <algorithm>
#include <filesystem>
#include <thread>

namespace dkb::kb {

const char* metric_name(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return "cosine";
    case Metric::kInnerProduct: return "ip";
    case Metric::kL2: return "l2";
  }
  return "cosine";
}

size_t IndexSnapshot::size() const {
  std::unordered_set<int64_t> hidden;
  for (const auto& s : segments) hidden.insert(s->touched.begin(), s->touched.end());
  size_t n = 0;
  base->for_each([&](int64_t id, std::span<const float>) { n += hidden.count(id) == 0; });
  std::unordered_set<int64_t> seen;
  for (size_t i = segments.size(); i-- > 0;) {
    segments[i]->adds->for_each([&](int64_t id, std::span<const float>) {
      if (seen.insert(id).second) ++n;
    });
    seen.insert(segments[i]->touched.begin(), segments[i]->touched.end());
  }
  return n;
}

IndexManager::IndexManager(Store& store, IndexManagerOptions options)
    : store_(store), opt_(std::move(options)) {
  listener_ = store_.add_change_listener([this](const ChangeEvent& ev) { on_change(ev); });
}

IndexManager::~IndexManager() {
  store_.remove_change_listener(listener_);
  (void)save_all();
}

IndexManagerStats IndexManager::stats() const {
  return {builds_.load(), loads_.load(), folds_.load(), compactions_.load()};
}

std::string IndexManager::index_path(int64_t collection_id, Metric metric) const {
  if (opt_.dir.empty()) return "";
  return opt_.dir + "/indexes/c" + std::to_string(collection_id) + "-" + metric_name(metric) +
         ".hnsw";
}

void IndexManager::on_change(const ChangeEvent& ev) {
  std::lock_guard lock(entries_mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->first.first != ev.collection_id) {
      ++it;
      continue;
    }
    if (ev.kind == ChangeEvent::Kind::kDropped) {
      std::error_code ec;
      if (!opt_.dir.empty()) std::filesystem::remove(index_path(ev.collection_id, it->second->metric), ec);
      it = entries_.erase(it);
      continue;
    }
    std::lock_guard pl(it->second->pending_mu);
    it->second->pending.push_back(ev);
    ++it;
  }
  if (ev.kind == ChangeEvent::Kind::kDropped && !opt_.dir.empty()) {
    for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
      std::error_code ec;
      std::filesystem::remove(index_path(ev.collection_id, m), ec);
    }
  }
}

std::shared_ptr<IndexManager::Entry> IndexManager::entry_for(const Collection& coll, Metric metric) {
  std::lock_guard lock(entries_mu_);
  auto& e = entries_[{coll.id, static_cast<int>(metric)}];
  if (!e || e->dim != coll.dimension) {
    e = std::make_shared<Entry>();
    e->collection_id = coll.id;
    e->metric = metric;
    e->dim = coll.dimension;
  }
  return e;
}

std::unique_ptr<VectorIndex> IndexManager::make_base(uint32_t dim, Metric metric, size_t n) const {
  if (n >= opt_.ann_min_vectors) {
    return std::make_unique<HnswVectorIndex>(dim, metric, opt_.hnsw, n + n / 8 + 16);
  }
  return std::make_unique<ExactVectorIndex>(dim, metric);
}

Status IndexManager::build_locked(Entry& e, const Collection& coll) {
  // A saved index is used when it is exactly current; anything else is rebuilt from SQLite.
  uint64_t want = store_.generation(coll.name);
  std::string path = index_path(coll.id, e.metric);
  if (!path.empty()) {
    IndexFileHeader h;
    auto loaded = HnswVectorIndex::load(path, opt_.hnsw, &h);
    if (loaded.is_ok() && h.collection_id == coll.id && h.dimension == e.dim &&
        h.metric == e.metric && h.generation == want) {
      auto s = std::make_shared<IndexSnapshot>();
      s->base = std::shared_ptr<VectorIndex>(std::move(*loaded));
      s->generation = h.generation;
      e.saved_generation = h.generation;
      e.publish(std::move(s));
      ++loads_;
      return Status::ok();
    }
  }
  std::vector<int64_t> ids;
  std::vector<float> data;
  // A hint only (the snapshot below may differ): without it the buffer's doublings peak at
  // about twice the collection's vectors (6 GB at 1M × 768).
  if (auto n = store_.count_chunks(coll.name); n.is_ok() && *n > 0) {
    ids.reserve(static_cast<size_t>(*n));
    data.reserve(static_cast<size_t>(*n) * e.dim);
  }
  DKB_ASSIGN_OR_RETURN(uint64_t gen,
                       store_.snapshot_vectors(coll.name, [&](int64_t id, std::span<const float> v) {
                         ids.push_back(id);
                         data.insert(data.end(), v.begin(), v.end());
                       }));
  auto base = make_base(e.dim, e.metric, ids.size());
  if (auto* h = dynamic_cast<HnswVectorIndex*>(base.get())) {
    DKB_RETURN_IF_ERROR(h->add_batch(ids, data, std::max(1u, std::thread::hardware_concurrency())));
  } else {
    static_cast<ExactVectorIndex&>(*base).reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      DKB_RETURN_IF_ERROR(base->add(ids[i], std::span<const float>(data.data() + i * e.dim, e.dim)));
    }
  }
  auto s = std::make_shared<IndexSnapshot>();
  s->base = std::move(base);
  s->generation = gen;
  e.publish(std::move(s));
  e.saved_generation = 0;
  ++builds_;
  return save_locked(e);
}

Status IndexManager::save_locked(Entry& e) {
  auto s = e.get();
  std::string path = index_path(e.collection_id, e.metric);
  if (!s || path.empty() || e.saved_generation == s->generation) return Status::ok();
  auto* h = dynamic_cast<HnswVectorIndex*>(s->base.get());
  std::error_code ec;
  if (h == nullptr || !s->segments.empty()) {
    // Exact bases are rebuilt from SQLite in milliseconds; a file would only go stale.
    if (h == nullptr) std::filesystem::remove(path, ec);
    return Status::ok();
  }
  std::filesystem::create_directories(opt_.dir + "/indexes", ec);
  std::shared_lock bl(e.base_mu);
  DKB_RETURN_IF_ERROR(h->save(path, s->generation, e.collection_id));
  e.saved_generation = s->generation;
  return Status::ok();
}

Status IndexManager::fold_locked(Entry& e) {
  auto old = e.get();
  auto next = std::make_shared<IndexSnapshot>();
  next->generation = old->generation;
  auto apply = [&](VectorIndex& base) -> Status {
    for (const auto& seg : old->segments) {
      for (int64_t id : seg->touched) {
        if (!seg->adds->contains(id)) base.remove(id);
      }
      Status st;
      seg->adds->for_each([&](int64_t id, std::span<const float> v) {
        if (st.is_ok()) st = base.add(id, v);
      });
      DKB_RETURN_IF_ERROR(st);
    }
    return Status::ok();
  };
  if (auto* hnsw = dynamic_cast<HnswVectorIndex*>(old->base.get())) {
      std::unique_lock bl(e.base_mu);
    DKB_RETURN_IF_ERROR(apply(*hnsw));
    if (static_cast<double>(hnsw->deleted_slots()) >
        opt_.compact_deleted_fraction * static_cast<double>(hnsw->size() + hnsw->deleted_slots())) {
      // Index compaction: a fresh graph of the live vectors.
      std::vector<int64_t> ids;
      std::vector<float> data;
      hnsw->for_each([&](int64_t id, std::span<const float> v) {
        ids.push_back(id);
        data.insert(data.end(), v.begin(), v.end());
      });
      auto fresh = make_base(e.dim, e.metric, ids.size());
      if (auto* fh = dynamic_cast<HnswVectorIndex*>(fresh.get())) {
        DKB_RETURN_IF_ERROR(fh->add_batch(ids, data, std::max(1u, std::thread::hardware_concurrency())));
      } else {
        for (size_t i = 0; i < ids.size(); ++i) {
          DKB_RETURN_IF_ERROR(fresh->add(ids[i], std::span<const float>(data.data() + i * e.dim, e.dim)));
        }
      }
      next->base = std::move(fresh);
      ++compactions_;
    } else {
      next->base = old->base;
    }
  } else {
    // Exact base: fold into a copy (immutable snapshots), promoted to HNSW once large.
    auto copy = std::make_unique<ExactVectorIndex>(e.dim, e.metric);
    Status st;
    old->base->for_each([&](int64_t id, std::span<const float> v) {
      if (st.is_ok()) st = copy->add(id, v);
    });
    DKB_RETURN_IF_ERROR(st);
    DKB_RETURN_IF_ERROR(apply(*copy));
    if (copy->size() >= opt_.ann_min_vectors) {
      auto h = std::make_unique<HnswVectorIndex>(e.dim, e.metric, opt_.hnsw, copy->size() + 16);
      std::vector<int64_t> ids;
      std::vector<float> data;
      copy->for_each([&](int64_t id, std::span<const float> v) {
        ids.push_back(id);
        data.insert(data.end(), v.begin(), v.end());
      });
      DKB_RETURN_IF_ERROR(h->add_batch(ids, data, std::max(1u, std::thread::hardware_concurrency())));
      next->base = std::move(h);
    } else {
      next->base = std::move(copy);
    }
  }
  e.publish(std::move(next));
  ++folds_;
  return save_locked(e);
}

Status IndexManager::catch_up(Entry& e, const Collection& coll) {
  uint64_t want = store_.generation(coll.name);
  if (auto cur = e.get(); cur && cur->generation >= want) return Status::ok();
  std::lock_guard wl(e.write_mu);
  auto s = e.get();
  if (s && s->generation >= want) return Status::ok();
  if (!s) {
    DKB_RETURN_IF_ERROR(build_locked(e, coll));
    s = e.get();
  }
  std::vector<ChangeEvent> events;
  {
    std::lock_guard pl(e.pending_mu);
    events.swap(e.pending);
  }
  auto seg = std::make_shared<DeltaSegment>();
  seg->adds = std::make_unique<ExactVectorIndex>(e.dim, e.metric);
  uint64_t gen = s->generation;
  for (const ChangeEvent& ev : events) {
    if (ev.generation <= gen) continue;  // already in the base
    gen = ev.generation;
    for (int64_t id : ev.removed) {
      seg->adds->remove(id);
      seg->touched.insert(id);
    }
    for (const auto& [id, v] : ev.added) {
      DKB_RETURN_IF_ERROR(seg->adds->add(id, v));
      seg->touched.insert(id);
    }
  }
  if (gen < want) {
    // Changes this manager never saw (it started tracking after them): rebuild.
    e.publish(nullptr);
    e.saved_generation = 0;
    std::error_code ec;
    return build_locked(e, coll);
  }
  auto next = std::make_shared<IndexSnapshot>(*s);
  next->generation = gen;
  if (!seg->touched.empty()) {
    next->delta_entries += seg->touched.size();
    next->segments.push_back(std::move(seg));
  }
  e.publish(next);
  if (next->delta_entries > opt_.fold_threshold) return fold_locked(e);
  return Status::ok();
}

Result<std::shared_ptr<const IndexSnapshot>> IndexManager::snapshot(const Collection& coll,
                                                                   Metric metric) {
  auto e = entry_for(coll, metric);
  DKB_RETURN_IF_ERROR(catch_up(*e, coll));
  return e->get();
}

Result<std::vector<VectorHit>> IndexManager::search(const Collection& coll, Metric metric,
                                                    std::span<const float> query, size_t k,
                                                    const std::vector<int64_t>* allow) {
  if (query.size() != coll.dimension) {
    return invalid_argument("query vector dimension " + std::to_string(query.size()) +
                            " does not match collection " + coll.name + " (dimension " +
                            std::to_string(coll.dimension) + ")");
  }
  auto e = entry_for(coll, metric);
  DKB_RETURN_IF_ERROR(catch_up(*e, coll));
  auto s = e->get();
  std::vector<VectorHit> hits;
  IdFilter base_filter;
  base_filter.allow = allow;
  for (const auto& seg : s->segments) base_filter.exclude.push_back(&seg->touched);
  {
    std::shared_lock bl(e->base_mu);
    DKB_ASSIGN_OR_RETURN(hits, s->base->search(query, k, base_filter));
  }
  for (size_t i = 0; i < s->segments.size(); ++i) {
    IdFilter f;
    f.allow = allow;
    for (size_t j = i + 1; j < s->segments.size(); ++j) f.exclude.push_back(&s->segments[j]->touched);
    DKB_ASSIGN_OR_RETURN(auto more, s->segments[i]->adds->search(query, k, f));
    hits.insert(hits.end(), more.begin(), more.end());
  }
  if (!s->segments.empty()) {
    std::sort(hits.begin(), hits.end(), [](const VectorHit& a, const VectorHit& b) {
      return a.score != b.score ? a.score > b.score : a.id < b.id;
    });
    if (hits.size() > k) hits.resize(k);
  }
  return hits;
}

Status IndexManager::save_all() {
  std::vector<std::shared_ptr<Entry>> all;
  {
    std::lock_guard lock(entries_mu_);
    for (auto& [key, e] : entries_) all.push_back(e);
  }
  Status first;
  for (auto& e : all) {
    std::lock_guard wl(e->write_mu);
    auto s = e->get();
    if (s && !s->segments.empty()) {
      if (Status st = fold_locked(*e); !st.is_ok() && first.is_ok()) first = st;
      continue;
    }
    if (Status st = save_locked(*e); !st.is_ok() && first.is_ok()) first = st;
  }
  return first;
}

}  // namespace dkb::kb
