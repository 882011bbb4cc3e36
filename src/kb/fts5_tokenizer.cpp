#include "fts5_tokenizer.h"

#include <string>

#include "kb/text_tokenizer.h"

namespace dkb::kb {
namespace {

// The tokenizer is stateless; FTS5 only needs a non-null handle.
int g_tokenizer_handle = 0;

int tok_create(void*, const char**, int, Fts5Tokenizer** out) {
  *out = reinterpret_cast<Fts5Tokenizer*>(&g_tokenizer_handle);
  return SQLITE_OK;
}

void tok_delete(Fts5Tokenizer*) {}

int tok_tokenize(Fts5Tokenizer*, void* ctx, int flags, const char* text, int n_text,
                 int (*emit)(void*, int, const char*, int, int, int)) {
  if (text == nullptr || n_text <= 0) return SQLITE_OK;
  // Documents and highlighting (FTS5_TOKENIZE_AUX) must see identical tokens; queries use
  // the bigram-only form.
  TokenizeMode mode = (flags & FTS5_TOKENIZE_QUERY) ? TokenizeMode::kQuery : TokenizeMode::kIndex;
  try {
    auto tokens = tokenize_text(std::string_view(text, static_cast<size_t>(n_text)), mode);
    for (const auto& t : tokens) {
      int rc =
          emit(ctx, t.colocated ? FTS5_TOKEN_COLOCATED : 0, t.text.data(),
               static_cast<int>(t.text.size()), static_cast<int>(t.start), static_cast<int>(t.end));
      if (rc != SQLITE_OK) return rc;
    }
  } catch (...) {
    return SQLITE_NOMEM;
  }
  return SQLITE_OK;
}

}  // namespace

fts5_api* fts5_api_of(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) != SQLITE_OK) return nullptr;
  sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
  sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  return api;
}

Status register_fts5_tokenizer(sqlite3* db) {
  fts5_api* api = fts5_api_of(db);
  if (api == nullptr || api->iVersion < 2) {
    return failed_precondition("SQLite was built without FTS5 (fts5_api unavailable)");
  }
  fts5_tokenizer tok{tok_create, tok_delete, tok_tokenize};
  int rc = api->xCreateTokenizer(api, kFts5TokenizerName, nullptr, &tok, nullptr);
  if (rc != SQLITE_OK) {
    return internal_error(std::string("registering FTS5 tokenizer: ") + sqlite3_errstr(rc));
  }
  return Status::ok();
}

}  // namespace dkb::kb
