// IndexManager::verify: index files and loaded indexes checked against SQLite, and repair.
#include <algorithm>
#include <filesystem>

#include "kb/index_manager.h"

#include "index_manager_entry.h"

namespace dkb::kb {

Result<IndexReport> IndexManager::verify(const Collection& coll, bool repair) {
  IndexReport report;
  const uint64_t store_gen = store_.generation(coll.name);
  for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    std::shared_ptr<Entry> e;
    {
      std::lock_guard lock(entries_mu_);
      auto it = entries_.find({coll.id, static_cast<int>(m)});
      if (it != entries_.end()) e = it->second;
    }
    const std::string label = "collection " + coll.name + " (" + metric_name(m) + ") index";
    bool broken = false;
    // The loaded index must hold exactly SQLite's vectors.
    if (e) {
      DKB_RETURN_IF_ERROR(catch_up(*e, coll));
      std::vector<int64_t> want;
      DKB_RETURN_IF_ERROR(store_.for_each_vector(
          coll.name, [&](int64_t id, std::span<const float>) { want.push_back(id); }));
      std::sort(want.begin(), want.end());
      auto s = e->get();
      std::vector<int64_t> have;
      {
        std::shared_lock bl(e->base_mu);
        std::unordered_set<int64_t> hidden;
        for (const auto& seg : s->segments) hidden.insert(seg->touched.begin(), seg->touched.end());
        s->base->for_each([&](int64_t id, std::span<const float>) {
          if (!hidden.count(id)) have.push_back(id);
        });
      }
      std::unordered_set<int64_t> seen;
      for (size_t i = s->segments.size(); i-- > 0;) {
        s->segments[i]->adds->for_each([&](int64_t id, std::span<const float>) {
          if (!seen.count(id)) have.push_back(id);
        });
        seen.insert(s->segments[i]->touched.begin(), s->segments[i]->touched.end());
      }
      std::sort(have.begin(), have.end());
      if (have != want) {
        broken = true;
        report.problems.push_back(label + " holds " + std::to_string(have.size()) +
                                  " vectors, SQLite " + std::to_string(want.size()));
      }
    }
    // The saved file: checksum, header, staleness.
    std::string path = index_path(coll.id, m);
    bool file_bad = false;
    if (!path.empty()) {
      auto h = check_index_file(path);
      if (!h.is_ok()) {
        if (h.status().code() != ErrorCode::kNotFound) {
          file_bad = true;
          report.problems.push_back(label + " file: " + h.status().message());
        }
      } else if (h->collection_id != coll.id || h->dimension != coll.dimension || h->metric != m) {
        file_bad = true;
        report.problems.push_back(label + " file " + path + " belongs to another collection");
      } else if (h->generation != store_gen) {
        auto s = e ? e->get() : nullptr;
        if (s && s->generation == store_gen && !broken) {
          report.notes.push_back(label + " file reflects generation " +
                                 std::to_string(h->generation) + "; the loaded index is current (" +
                                 std::to_string(store_gen) + ") and is saved at its next fold or at shutdown");
        } else {
          file_bad = true;
          report.problems.push_back(label + " file is stale: generation " +
                                    std::to_string(h->generation) + ", store " +
                                    std::to_string(store_gen));
        }
      } else {
        report.notes.push_back(label + " file OK (" + std::to_string(h->count) +
                               " vectors, generation " + std::to_string(h->generation) + ")");
      }
    }
    if (!repair || (!broken && !file_bad)) continue;
    // Rebuild from SQLite and save a fresh file.
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove(path, ec);
    auto entry = entry_for(coll, m);
    std::lock_guard wl(entry->write_mu);
    {
      std::lock_guard pl(entry->pending_mu);
      entry->pending.clear();
    }
    entry->publish(nullptr);
    entry->saved_generation = 0;
    DKB_RETURN_IF_ERROR(build_locked(*entry, coll));
    report.repaired.push_back(label + " rebuilt from SQLite");
  }
  return report;
}

}  // namespace dkb::kb
