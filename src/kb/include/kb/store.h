// kb::Store: persistent collections, documents and chunks plus their full-text index.
//
// The interface lets a PostgreSQL store follow the embedded SQLite one (sqlite_store.h).
// Contract for every implementation:
//  - put_document() is atomic: the document row, all its chunks, their vectors and their
//    full-text entries commit together or not at all. An acknowledged (OK-returned) write is
//    durable across a crash (kill -9, power loss as far as fsync allows).
//  - Re-putting a document whose content_hash is unchanged is a no-op (kUnchanged).
//  - Errors: kNotFound (unknown collection/document), kAlreadyExists (duplicate collection),
//    kInvalidArgument (bad names, wrong vector dimension, malformed filters),
//    kIOError/kCorruption (storage failures). A failed call changes nothing.
//  - Thread-safety: all methods may be called concurrently; implementations serialize as needed.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "kb/types.h"

namespace dkb::kb {

enum class PutOutcome { kInserted, kReplaced, kUnchanged };

struct PutResult {
  PutOutcome outcome = PutOutcome::kInserted;
  std::vector<int64_t> added_chunk_ids;    // in ordinal order
  std::vector<int64_t> removed_chunk_ids;  // chunks of the replaced version
};

// One document with its chunks, for put_documents().
struct DocumentWrite {
  Document doc;
  std::vector<Chunk> chunks;
};

// One stored link with the id of the document it is written in.
struct LinkRecord {
  std::string source_id;
  DocumentLink link;
};

// A committed change to one collection, delivered to change listeners (index maintenance).
struct ChangeEvent {
  enum class Kind { kChunks, kDropped };
  Kind kind = Kind::kChunks;
  int64_t collection_id = 0;
  std::string collection;   // name at the time of the change
  uint64_t generation = 0;  // the collection's generation after the change
  std::vector<int64_t> removed;                                   // chunk ids gone
  std::vector<std::pair<int64_t, std::vector<float>>> added;      // new chunks with vectors
};
// Called after each commit, in commit order, with the store's write lock held: it must be quick
// and must not call back into the store.
using ChangeListener = std::function<void(const ChangeEvent&)>;

// Result of Store::verify(): a store is clean when `problems` is empty.
struct StoreReport {
  std::vector<std::string> problems;  // each one sentence: what is wrong and where
  std::vector<std::string> notes;     // informational (e.g. chunks without embeddings)
};

struct TextQuery {
  std::string text;  // free text; tokenized with kb's CJK-aware tokenizer
  size_t k = 10;
  Json where;             // Chroma `where` filter on chunk metadata; null = none
  Json where_document;    // Chroma `where_document` filter on chunk text; null = none
  bool highlight = true;  // fill SearchHit::highlighted
  // SearchHit::highlighted wraps matched spans in these (text_tokenizer.h highlight_text).
  std::string highlight_open = "<b>";
  std::string highlight_close = "</b>";
};

class Store {
 public:
  virtual ~Store() = default;

  // Collections.
  virtual Result<Collection> create_collection(std::string_view name, const Json& metadata,
                                               uint32_t dimension) = 0;
  virtual Result<Collection> get_collection(std::string_view name) = 0;
  virtual Result<std::vector<Collection>> list_collections() = 0;
  virtual Status update_collection_metadata(std::string_view name, const Json& metadata) = 0;
  // Renames a collection, keeping its documents, chunks and vectors. kNotFound (unknown
  // `name`), kAlreadyExists (`new_name` taken), kInvalidArgument (bad `new_name`).
  virtual Status rename_collection(std::string_view name, std::string_view new_name) = 0;
  // Deletes the collection with all its documents and chunks.
  virtual Status delete_collection(std::string_view name) = 0;

  // Documents. `doc.collection` names the target collection; chunk ordinals are reassigned
  // 0..n-1 in the given order. Each chunk's stored metadata is the document's metadata
  // overlaid with the chunk's own keys. An empty doc.content_hash is computed from title,
  // metadata and chunk texts. Vectors, when present, must all have the collection's
  // dimension (the first vectors stored fix it when it is still 0).
  virtual Result<PutResult> put_document(const Document& doc, const std::vector<Chunk>& chunks) = 0;
  // Several documents of one collection in one transaction: all of them are written, or none
  // (the first error, naming the document, is returned). Each follows put_document's rules;
  // every doc.collection must equal `collection`. Results are in input order.
  virtual Result<std::vector<PutResult>> put_documents(std::string_view collection,
                                                       std::span<const DocumentWrite> writes) = 0;
  // Returns the ids of the removed chunks.
  virtual Result<std::vector<int64_t>> delete_document(std::string_view collection,
                                                       std::string_view doc_id) = 0;
  // Deletes the listed documents in one transaction; ids that do not exist are skipped.
  // Returns how many documents were removed.
  virtual Result<size_t> delete_documents(std::string_view collection,
                                          std::span<const std::string> doc_ids) = 0;
  virtual Result<Document> get_document(std::string_view collection, std::string_view doc_id) = 0;
  // Ordered by document id.
  virtual Result<std::vector<Document>> list_documents(std::string_view collection,
                                                       size_t limit = SIZE_MAX,
                                                       size_t offset = 0) = 0;
  // Chunks of one document in ordinal order, with vectors.
  virtual Result<std::vector<Chunk>> get_chunks(std::string_view collection,
                                                std::string_view doc_id) = 0;
  virtual Result<int64_t> count_chunks(std::string_view collection) = 0;
  // Every link of the collection's documents, ordered by source document id, then by position
  // in the document. kNotFound for an unknown collection.
  virtual Result<std::vector<LinkRecord>> list_links(std::string_view collection) = 0;

  // Full-text (BM25) search restricted to the collection and the `where` filter, applied
  // inside the query. Hits are ordered by descending score (score = -bm25).
  virtual Result<std::vector<SearchHit>> text_search(std::string_view collection,
                                                     const TextQuery& query) = 0;
  // Ids (ascending) of the chunks of the collection that match `where` and `where_document`
  // (all chunks when both are null).
  virtual Result<std::vector<int64_t>> filter_chunk_ids(std::string_view collection,
                                                        const Json& where,
                                                        const Json& where_document = nullptr) = 0;
  // Calls fn(chunk_id, vector) for every chunk of the collection that has a vector.
  virtual Status for_each_vector(
      std::string_view collection,
      const std::function<void(int64_t, std::span<const float>)>& fn) = 0;
  // Full chunk rows (without vectors) for the given ids, in the same order; unknown ids skipped.
  virtual Result<std::vector<SearchHit>> get_hits(std::span<const int64_t> chunk_ids) = 0;

  // Persistent, store-wide monotonic counter: every committed change to a collection's chunks
  // (and its creation or rename) gives it a value no collection ever had before, so a saved
  // index recording the generation it reflects can tell whether it is stale — across
  // restarts and crashes. Unknown collection → 0.
  virtual uint64_t generation(std::string_view collection) = 0;
  // for_each_vector() and the collection's generation read in the same snapshot.
  virtual Result<uint64_t> snapshot_vectors(
      std::string_view collection,
      const std::function<void(int64_t, std::span<const float>)>& fn) = 0;
  // Registers a listener for committed changes (see ChangeListener); returns its handle.
  virtual uint64_t add_change_listener(ChangeListener listener) = 0;
  // Unregisters; after it returns the listener is not running and will not be called.
  virtual void remove_change_listener(uint64_t handle) = 0;

  // Gives freed pages back to the file system (deleted documents shrink the store). Deletes
  // and replacements also reclaim space on their own once enough pages are free.
  virtual Status compact() = 0;
  // Checks the store: storage integrity, full-text index consistency, chunk ↔ vector
  // agreement. Problems are reported in the result, not as an error status.
  virtual Result<StoreReport> verify() = 0;
  // Rebuilds what verify() can find wrong and the store can rebuild (full-text index, orphan
  // rows); returns what was done. Page-level damage is reported, not repaired.
  virtual Result<std::vector<std::string>> repair() = 0;
};

}  // namespace dkb::kb
