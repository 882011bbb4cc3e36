// SqliteStore's in-memory caches of SQLite: each collection's MetadataIndex (chunk ids and
// metadata, for `where` filters and full-text collection checks) and the FTS5 document
// lengths (for BM25 in one call, fts5_bm25.h). Writes keep them current after each commit;
// a cache whose generation differs from the collection's is rebuilt on use.
#include <algorithm>

#include "fts5_bm25.h"
#include "sqlite_store_impl.h"

namespace dkb::kb {

Json stored_chunk_metadata(const Document& doc, const Chunk& chunk) {
  Json meta = doc.metadata;
  for (auto it = chunk.metadata.begin(); it != chunk.metadata.end(); ++it) meta[it.key()] = it.value();
  return meta;
}

Result<const MetadataIndex*> SqliteStore::catalog_locked(const Collection& coll, bool with_metadata) {
  DKB_ASSIGN_OR_RETURN(uint64_t gen, generation_locked(coll.name));
  auto& slot = catalogs_[coll.id];
  if (slot && slot->generation == gen && (slot->index.with_metadata() || !with_metadata)) {
    return &slot->index;
  }
  slot.reset();
  auto cat = std::make_unique<Catalog>(Catalog{MetadataIndex(with_metadata), gen});
  if (with_metadata) {
    // The covering index (collection_id, metadata) reads no chunk row (each carries its
    // vector); it yields metadata order, so sort by id before adding.
    DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_, "SELECT id, metadata FROM chunks INDEXED BY "
                                                          "chunks_by_metadata WHERE collection_id = ?"));
    st.bind(1, coll.id);
    std::vector<std::pair<int64_t, std::string>> rows;
    for (;;) {
      DKB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      rows.emplace_back(st.col_int(0), st.col_text(1));
    }
    std::sort(rows.begin(), rows.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [id, text] : rows) {
      DKB_ASSIGN_OR_RETURN(Json meta, parse_json_column(text, "chunk metadata"));
      std::string().swap(text);
      cat->index.add(id, meta);
    }
  } else {
    DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_, "SELECT id FROM chunks INDEXED BY "
                                                          "chunks_by_collection WHERE collection_id = ? ORDER BY id"));
    st.bind(1, coll.id);
    for (;;) {
      DKB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      cat->index.add(st.col_int(0), Json());
    }
  }
  slot = std::move(cat);
  return &slot->index;
}

Result<std::shared_ptr<const std::vector<int64_t>>> SqliteStore::select_locked(
    const Collection& coll, const Json& where, const WhereNode& tree) {
  DKB_ASSIGN_OR_RETURN(uint64_t gen, generation_locked(coll.name));
  std::string key = where.dump();
  Selection& last = last_selection_;
  if (last.ids && last.collection_id == coll.id && last.generation == gen && last.where == key) {
    return last.ids;
  }
  DKB_ASSIGN_OR_RETURN(const MetadataIndex* cat, catalog_locked(coll, true));
  last = Selection{coll.id, gen, std::move(key),
                   std::make_shared<const std::vector<int64_t>>(cat->select(tree))};
  return last.ids;
}

void SqliteStore::chunks_changed_locked(int64_t collection_id, std::span<const int64_t> removed,
                                        std::span<const int64_t> added, const Document* doc,
                                        const std::vector<Chunk>* chunks) {
  if (doc_len_ready_ && !added.empty()) {
    auto [lo, hi] = std::minmax_element(added.begin(), added.end());
    if (!read_doc_lengths(db_, doc_len_, *lo, *hi).is_ok()) doc_len_ready_ = false;
  }
  auto it = catalogs_.find(collection_id);
  if (it == catalogs_.end()) return;
  MetadataIndex& index = it->second->index;
  for (int64_t id : removed) index.remove(id);
  for (size_t i = 0; i < added.size(); ++i) {
    bool ok = index.with_metadata() && doc != nullptr && chunks != nullptr && i < chunks->size()
                  ? index.add(added[i], stored_chunk_metadata(*doc, (*chunks)[i]))
                  : index.add(added[i], Json());
    if (!ok || (index.with_metadata() && (doc == nullptr || chunks == nullptr))) {
      catalogs_.erase(it);  // out of step with SQLite: rebuilt on next use
      return;
    }
  }
}

void SqliteStore::catalog_published_locked(int64_t collection_id, uint64_t generation) {
  auto it = catalogs_.find(collection_id);
  if (it != catalogs_.end()) it->second->generation = generation;
}

Status SqliteStore::doc_lengths_locked() {
  if (doc_len_ready_) return Status::ok();
  doc_len_.clear();
  DKB_RETURN_IF_ERROR(read_doc_lengths(db_, doc_len_));
  doc_len_ready_ = true;
  return Status::ok();
}

}  // namespace dkb::kb
