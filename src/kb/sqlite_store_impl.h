// SqliteStore class definition, shared by sqlite_store.cpp (open, schema, writes) and
// sqlite_store_read.cpp (reads and searches). Private to kb; see kb/sqlite_store.h.
#pragma once

#include <sqlite3.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>

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
  Status compact() override;

  Status verify();

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
  void bump_generation(const std::string& name) { generations_[name] = ++generation_counter_; }

  std::mutex mu_;
  sqlite3* db_;
  int lock_fd_;
  std::string dir_;
  std::map<std::string, uint64_t, std::less<>> generations_;
  uint64_t generation_counter_ = 1;
};

// Parses a stored JSON text column; malformed text is reported as corruption.
Result<Json> parse_json_column(const std::string& text, std::string_view what);

}  // namespace dkb::kb
