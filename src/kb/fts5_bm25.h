// BM25 over every match of a full-text query in one call. Private to kb.
//
// bm25_matches() runs `SELECT dkb_bm25_all(chunks_fts, ?) FROM chunks_fts WHERE chunks_fts
// MATCH ? LIMIT 1`: the auxiliary function, called once, walks each phrase's posting list
// with xQueryPhrase and scores the matching rows that `allow` contains. It computes exactly
// what FTS5's bm25(chunks_fts) computes for those rows — the same IDF (phrase hits over the
// whole table), average length, term frequencies and floating-point operations in the same
// order — so the scores are bit-identical; what it saves is SQLite visiting every match as a
// row (a document-size lookup, a function call and a sorter insert each), which made a
// 3-word query cost ~1 µs per match (≈ 40 ms at 1M chunks).
// Document lengths come from `doc_len` (token counts by rowid, as FTS5's %_docsize holds
// them; 0 = unknown, then FTS5 is asked).
// Thread-safety: per connection, like SQLite.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "kb/metadata_index.h"

namespace dkb::kb {

struct Bm25Match {
  double bm25 = 0;  // bm25(chunks_fts): negative, lower is better
  int64_t rowid = 0;
};

// Registers dkb_bm25_all on the connection's FTS5.
Status register_bm25_function(sqlite3* db);

// Every row of `allow` that matches `match` (an FTS5 expression), scored, in no order.
Result<std::vector<Bm25Match>> bm25_matches(sqlite3* db, const std::string& match,
                                            const IdBitmap& allow,
                                            const std::vector<uint16_t>& doc_len);

// Token counts of every row of the FTS5 table chunks_fts, indexed by rowid (0 where unknown
// or above 65535), read from its %_docsize table. `from`/`to` limit the rowids read.
Status read_doc_lengths(sqlite3* db, std::vector<uint16_t>& doc_len, int64_t from = 0,
                        int64_t to = INT64_MAX);

}  // namespace dkb::kb
