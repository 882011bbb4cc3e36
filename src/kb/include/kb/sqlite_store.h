// SqliteStore: the embedded kb::Store — one data directory, one SQLite database (WAL, FTS5).
//
// On-disk layout of a data directory (format version 1):
//   DIR/LOCK     lock file, held with flock(LOCK_EX) for the store's lifetime; its content is
//                the owner's pid (informational). A second opener fails at once with
//                kFailedPrecondition ("data directory ... is in use").
//   DIR/kb.db    SQLite database (+ kb.db-wal, kb.db-shm). Magic: PRAGMA application_id =
//                0x444B4231 ("DKB1"); version: PRAGMA user_version = kSchemaVersion. A file
//                with another application_id or a newer version is rejected (kCorruption /
//                kFailedPrecondition). Integrity: SQLite's own page format; the checksum-level
//                check is `PRAGMA quick_check` via verify().
//   Version 2 added the links table (document_id, position, target, heading, alias, embed):
//   a version-1 file is upgraded in place on open (the table is created, user_version set).
//   Vectors are BLOBs of dimension × float32, little-endian, no header (the dimension is the
//   collection's).
//   Generations (version 2): kb_state('generation') is a store-wide counter; each committed
//   change to a collection takes the next value into collections.generation (Store::
//   generation()). Index chunks_by_metadata(collection_id, metadata) lets the metadata of a
//   collection be read without its vector BLOBs. A version-1 file is upgraded in place on open.
//   DIR/indexes/ holds the saved ANN indexes (index_file.h), caches of kb.db.
// Durability: journal_mode=WAL, synchronous=FULL — a put_document() that returned OK is on
// disk. auto_vacuum=INCREMENTAL: a delete or replacement that leaves more than a quarter of
// the pages (or 8 MiB) free runs incremental_vacuum; compact() also merges the FTS5 segments
// and truncates the WAL; journal_size_limit keeps the WAL file from staying large.
// Full-text: FTS5 table over chunk text with the "dkb_cjk" tokenizer (text_tokenizer.h),
// registered on the connection at open; the sqlite3 shell cannot query it without it. The
// tokenizer's output is part of the format: changing it needs a kSchemaVersion bump and an
// FTS5 'rebuild' on open.
// Search caches (memory only; SQLite stays the truth): per collection, a MetadataIndex
// (metadata_index.h) of its chunk ids — and, once a `where` filter has been used, their
// metadata — answers filters and the full-text collection check without reading chunk rows;
// the FTS5 token count of every chunk (2 bytes per chunk id) lets BM25 score all matches of a
// query in one FTS5 call (fts5_bm25.h). Both are built on first use (at 1M chunks: 0.2 s for
// ids and lengths, 0.6 s more for metadata), updated by every committed write of this process,
// checked against the collection's generation on use, and dropped by repair().
// Thread-safety: one connection guarded by a mutex; every method is safe to call concurrently.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "kb/store.h"

namespace dkb::kb {

inline constexpr int32_t kApplicationId = 0x444B4231;  // "DKB1"
inline constexpr int32_t kSchemaVersion = 2;

struct SqliteStoreOptions {
  bool create_if_missing = true;  // create DIR and the database when absent
};

class SqliteStore;

// Opens (or creates) the store in `dir`. The returned store owns the directory lock until
// destroyed.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& dir,
                                                 const SqliteStoreOptions& options = {});

// Runs SQLite's integrity check and the FTS5 integrity check; kCorruption on failure.
Status verify_sqlite_store(Store& store);

}  // namespace dkb::kb
