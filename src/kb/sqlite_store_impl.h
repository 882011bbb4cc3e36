// SqliteStore class definition, shared by sqlite_store.cpp (open, schema, writes) and
// sqlite_store_read.cpp (reads and searches). Private to kb; see kb/sqlite_store.h.
#pragma once

#include <sqlite3.h>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kb/metadata_index.h"
#include "kb/sqlite_store.h"
#include "sqlite_util.h"

namespace dkb::kb {

class SqliteStore final : public Store {
 public:
  SqliteStore(sqlite3* db, int lock_fd, std::string dir)
      : db_(db), lock_fd_(lock_fd), dir_(std::move(dir)) {}
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status init_schema();

  Result<Collection> create_collection(std::string_view name, const Json& metadata,
                                       uint32_t dimension) override;
  Result<Collection> get_collection(std::string_view name) override;
  Result<std::vector<Collection>> list_collections() override;
  Status update_collection_metadata(std::string_view name, const Json& metadata) override;
  Status rename_collection(std::string_view name, std::string_view new_name) override;
  Status delete_collection(std::string_view name) override;

  Result<PutResult> put_document(const Document& doc, const std::vector<Chunk>& chunks) override;
  Result<std::vector<PutResult>> put_documents(std::string_view collection,
                                               std::span<const DocumentWrite> writes) override;
  Result<std::vector<int64_t>> delete_document(std::string_view collection,
                                               std::string_view doc_id) override;
  Result<size_t> delete_documents(std::string_view collection,
                                  std::span<const std::string> doc_ids) override;
  Result<Document> get_document(std::string_view collection, std::string_view doc_id) override;
  Result<std::vector<Document>> list_documents(std::string_view collection, size_t limit,
                                               size_t offset) override;
  Result<std::vector<Chunk>> get_chunks(std::string_view collection,
                                        std::string_view doc_id) override;
  Result<int64_t> count_chunks(std::string_view collection) override;
  Result<std::vector<LinkRecord>> list_links(std::string_view collection) override;

  Result<std::vector<SearchHit>> text_search(std::string_view collection,
                                             const TextQuery& query) override;
  Result<std::vector<int64_t>> filter_chunk_ids(std::string_view collection, const Json& where,
                                                const Json& where_document) override;
  Status for_each_vector(std::string_view collection,
                         const std::function<void(int64_t, std::span<const float>)>& fn) override;
  Result<std::vector<SearchHit>> get_hits(std::span<const int64_t> chunk_ids) override;
  uint64_t generation(std::string_view collection) override;
  Result<uint64_t> snapshot_vectors(
      std::string_view collection,
      const std::function<void(int64_t, std::span<const float>)>& fn) override;
  uint64_t add_change_listener(ChangeListener listener) override;
  void remove_change_listener(uint64_t handle) override;
  Status compact() override;
  Result<StoreReport> verify() override;
  Result<std::vector<std::string>> repair() override;

  // SQLite's quick_check and the FTS5 integrity check (verify_sqlite_store()).
  Status quick_verify();

 private:
  // Callers hold mu_.
  Result<Collection> get_collection_locked(std::string_view name);
  // Writes one validated document inside the caller's transaction; sets coll.dimension when
  // these are the collection's first vectors.
  Result<PutResult> put_locked(const Document& doc, const std::vector<Chunk>& chunks,
                               Collection& coll);
  // Deletes one document inside the caller's transaction; nullopt when it does not exist.
  Result<std::optional<std::vector<int64_t>>> delete_locked(const Collection& coll,
                                                            std::string_view doc_id);
  // Replaces the document's links inside the caller's transaction.
  Status put_links_locked(int64_t doc_row, const std::vector<DocumentLink>& links);
  // Inside the caller's transaction: takes the next store-wide generation and records it on
  // the collection. Returns it; after commit, call published().
  Result<uint64_t> bump_generation_locked(int64_t collection_id);
  // After a commit: caches the generation and tells the listeners.
  void published(ChangeEvent event);
  Status for_each_vector_locked(const Collection& coll,
                                const std::function<void(int64_t, std::span<const float>)>& fn);
  // After deletes and replacements that removed `removed_chunks` chunks: merges the full-text
  // index once enough rows were deleted and gives free pages back once enough accumulated.
  void reclaim_space_locked(size_t removed_chunks);
  Result<uint64_t> generation_locked(std::string_view collection);
  Result<std::vector<SearchHit>> get_hits_locked(std::span<const int64_t> chunk_ids);

  // In-memory caches of what SQLite holds (kept current by the writes, checked against the
  // collection's generation on use; repair() drops them).
  // The collection's MetadataIndex, built on first use (with metadata when asked).
  Result<const MetadataIndex*> catalog_locked(const Collection& coll, bool with_metadata);
  // After a commit: applies one document's chunk changes, in transaction order, to the
  // collection's MetadataIndex and the document lengths. `doc`/`chunks` give the metadata of
  // the `added` ids (null for deletes).
  void chunks_changed_locked(int64_t collection_id, std::span<const int64_t> removed,
                             std::span<const int64_t> added, const Document* doc,
                             const std::vector<Chunk>* chunks);
  // Marks the collection's MetadataIndex (if any) current as of `generation`.
  void catalog_published_locked(int64_t collection_id, uint64_t generation);
  // FTS5 token counts by chunk id (fts5_bm25.h), read on the first full-text search.
  Status doc_lengths_locked();
  // Ids (ascending) of the collection's chunks matching a non-empty `where` (`tree` is its
  // parse). The last answer is kept: a hybrid search evaluates its filter for both halves.
  Result<std::shared_ptr<const std::vector<int64_t>>> select_locked(const Collection& coll,
                                                                    const Json& where,
                                                                    const WhereNode& tree);

  struct Catalog {
    MetadataIndex index;
    uint64_t generation = 0;
  };

  std::mutex mu_;
  sqlite3* db_;
  int lock_fd_;
  std::string dir_;
  std::map<std::string, uint64_t, std::less<>> generations_;  // cache of collections.generation
  std::map<uint64_t, ChangeListener> listeners_;
  uint64_t next_listener_ = 1;
  size_t removed_since_merge_ = 0;
  std::map<int64_t, std::unique_ptr<Catalog>> catalogs_;  // by collection id
  std::vector<uint16_t> doc_len_;
  bool doc_len_ready_ = false;
  struct Selection {
    int64_t collection_id = 0;
    uint64_t generation = 0;
    std::string where;  // the filter's JSON text
    std::shared_ptr<const std::vector<int64_t>> ids;
  };
  Selection last_selection_;
};

// A chunk's stored metadata: the document's, overlaid with the chunk's own keys.
Json stored_chunk_metadata(const Document& doc, const Chunk& chunk);

// Parses a stored JSON text column; malformed text is reported as corruption.
Result<Json> parse_json_column(const std::string& text, std::string_view what);

}  // namespace dkb::kb
