// Registers the "dkb_cjk" FTS5 tokenizer (text_tokenizer.h) on a SQLite connection.
// Private to kb. Must be called on every connection before it touches an FTS5 table that
// uses the tokenizer. Thread-safety: per connection, like SQLite itself.
#pragma once

#include <sqlite3.h>

#include "base/status.h"

namespace dkb::kb {

inline constexpr const char* kFts5TokenizerName = "dkb_cjk";

Status register_fts5_tokenizer(sqlite3* db);

// The connection's FTS5 API (to register tokenizers and auxiliary functions); null when
// SQLite was built without FTS5.
fts5_api* fts5_api_of(sqlite3* db);

}  // namespace dkb::kb
