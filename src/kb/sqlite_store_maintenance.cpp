// SqliteStore maintenance: generations and change listeners, space reclamation, verify and
// repair (see kb/sqlite_store.h for the format).
#include "sqlite_store_impl.h"

namespace dkb::kb {
namespace {

Result<int64_t> query_int(sqlite3* db, const std::string& q) {
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db, q));
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.col_int(0) : int64_t{0};
}

}  // namespace

Result<uint64_t> SqliteStore::bump_generation_locked(int64_t collection_id) {
  DKB_RETURN_IF_ERROR(
      sql::exec(db_, "UPDATE kb_state SET value = value + 1 WHERE key = 'generation'"));
  DKB_ASSIGN_OR_RETURN(int64_t gen,
                       query_int(db_, "SELECT value FROM kb_state WHERE key = 'generation'"));
  DKB_ASSIGN_OR_RETURN(auto st,
                       sql::Stmt::prepare(db_, "UPDATE collections SET generation=? WHERE id=?"));
  st.bind(1, gen).bind(2, collection_id);
  DKB_RETURN_IF_ERROR(st.run());
  return static_cast<uint64_t>(gen);
}

void SqliteStore::published(ChangeEvent event) {
  if (event.kind == ChangeEvent::Kind::kDropped) {
    generations_.erase(event.collection);
  } else {
    generations_[event.collection] = event.generation;
  }
  for (const auto& [handle, l] : listeners_) l(event);
}

uint64_t SqliteStore::add_change_listener(ChangeListener listener) {
  std::lock_guard lock(mu_);
  listeners_.emplace(next_listener_, std::move(listener));
  return next_listener_++;
}

void SqliteStore::remove_change_listener(uint64_t handle) {
  std::lock_guard lock(mu_);
  listeners_.erase(handle);
}

void SqliteStore::reclaim_space_locked(size_t removed_chunks) {
  // Best effort: the data is committed; a failure here only delays giving space back.
  // FTS5 keeps a deleted row's postings as delete markers until its segments merge: once a
  // quarter of the chunks have been removed since the last merge, merge everything (cost
  // proportional to the index, amortized over the deletes that made it worthwhile).
  removed_since_merge_ += removed_chunks;
  auto live = query_int(db_, "SELECT count(*) FROM chunks");
  if (live.is_ok() && removed_since_merge_ > 64 &&
      removed_since_merge_ * 4 > static_cast<size_t>(*live)) {
    if (sql::exec(db_, "INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')").is_ok()) {
      removed_since_merge_ = 0;
    }
  }
  auto free_pages = query_int(db_, "PRAGMA freelist_count");
  auto pages = query_int(db_, "PRAGMA page_count");
  auto page_size = query_int(db_, "PRAGMA page_size");
  if (!free_pages.is_ok() || !pages.is_ok() || !page_size.is_ok()) return;
  if (*free_pages * 4 > *pages || *free_pages * *page_size > (8 << 20)) {
    // In WAL mode the file only shrinks when the vacuumed pages are checkpointed back.
    if (sql::exec(db_, "PRAGMA incremental_vacuum").is_ok()) {
      (void)sql::exec(db_, "PRAGMA wal_checkpoint(PASSIVE)");
    }
  }
}

Result<StoreReport> SqliteStore::verify() {
  std::lock_guard lock(mu_);
  StoreReport report;
  {
    DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_, "PRAGMA integrity_check(20)"));
    for (;;) {
      DKB_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      std::string line = st.col_text(0);
      if (line != "ok") report.problems.push_back("SQLite integrity_check: " + line);
    }
  }
  Status fts =
      sql::exec(db_, "INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)");
  if (!fts.is_ok()) report.problems.push_back("full-text index does not match the chunks: " + fts.message());
  DKB_ASSIGN_OR_RETURN(
      int64_t orphans,
      query_int(db_, "SELECT count(*) FROM chunks c WHERE NOT EXISTS "
                     "(SELECT 1 FROM documents d WHERE d.id = c.document_id)"));
  if (orphans > 0) report.problems.push_back(std::to_string(orphans) + " chunks belong to no document");
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(
                   db_,
                   "SELECT co.name, co.dimension, count(c.id), "
                   "sum(c.vector IS NOT NULL), "
                   "sum(c.vector IS NOT NULL AND length(c.vector) != co.dimension * 4), "
                   "sum(c.collection_id != d.collection_id) "
                   "FROM collections co LEFT JOIN chunks c ON c.collection_id = co.id "
                   "LEFT JOIN documents d ON d.id = c.document_id GROUP BY co.id ORDER BY co.name"));
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    std::string name = st.col_text(0);
    int64_t dim = st.col_int(1), chunks = st.col_int(2), with_vec = st.col_int(3),
            bad_vec = st.col_int(4), misplaced = st.col_int(5);
    if (bad_vec > 0) {
      report.problems.push_back("collection " + name + ": " + std::to_string(bad_vec) +
                                " vectors do not have the collection's dimension " +
                                std::to_string(dim));
    }
    if (misplaced > 0) {
      report.problems.push_back("collection " + name + ": " + std::to_string(misplaced) +
                                " chunks disagree with their document's collection");
    }
    if (dim > 0 && with_vec < chunks) {
      report.notes.push_back("collection " + name + ": " + std::to_string(chunks - with_vec) +
                             " of " + std::to_string(chunks) +
                             " chunks have no embedding (full-text only)");
    }
  }
  return report;
}

Result<std::vector<std::string>> SqliteStore::repair() {
  std::lock_guard lock(mu_);
  // Whatever repair changes, the in-memory caches are rebuilt from the repaired tables.
  catalogs_.clear();
  doc_len_ready_ = false;
  std::vector<std::string> done;
  Status fts =
      sql::exec(db_, "INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)");
  if (!fts.is_ok()) {
    DKB_RETURN_IF_ERROR(sql::exec(db_, "INSERT INTO chunks_fts(chunks_fts) VALUES('rebuild')"));
    done.push_back("rebuilt the full-text index from the chunks");
  }
  DKB_RETURN_IF_ERROR(sql::exec(db_, "DELETE FROM chunks WHERE NOT EXISTS "
                                     "(SELECT 1 FROM documents d WHERE d.id = chunks.document_id)"));
  if (int n = sqlite3_changes(db_); n > 0) {
    done.push_back("removed " + std::to_string(n) + " chunks that belonged to no document");
  }
  DKB_RETURN_IF_ERROR(sql::exec(db_, "REINDEX"));
  return done;
}

}  // namespace dkb::kb
