#include "fts5_bm25.h"

#include <cmath>
#include <unordered_map>

#include "fts5_tokenizer.h"
#include "sqlite_util.h"

namespace dkb::kb {
namespace {

constexpr const char* kRequestType = "dkb_bm25_request";

struct Request {
  const IdBitmap* allow = nullptr;
  const std::vector<uint16_t>* doc_len = nullptr;
  std::vector<Bm25Match> out;
  // Scratch while walking the phrases: one slot per allowed matching row.
  int n_phrase = 0;
  int phrase = 0;
  int64_t hits = 0;  // rows matching the current phrase, in the whole table (for its IDF)
  int rc = SQLITE_OK;
  std::unordered_map<int64_t, uint32_t> slot_of;
  std::vector<int64_t> rowid;  // slot → rowid
  std::vector<double> length;  // slot → document length in tokens
  std::vector<double> freq;    // slot × phrase → instances of the phrase in the row
};

int on_phrase_row(const Fts5ExtensionApi* api, Fts5Context* fts, void* user) {
  auto* r = static_cast<Request*>(user);
  ++r->hits;
  int64_t id = api->xRowid(fts);
  if (!r->allow->contains(id)) return SQLITE_OK;
  auto [it, fresh] = r->slot_of.try_emplace(id, static_cast<uint32_t>(r->rowid.size()));
  if (fresh) {
    uint16_t len = static_cast<size_t>(id) < r->doc_len->size() ? (*r->doc_len)[static_cast<size_t>(id)] : 0;
    int n_tok = len;
    if (len == 0) {
      int rc = api->xColumnSize(fts, -1, &n_tok);
      if (rc != SQLITE_OK) return rc;
    }
    r->rowid.push_back(id);
    r->length.push_back(static_cast<double>(n_tok));
    r->freq.resize(r->freq.size() + static_cast<size_t>(r->n_phrase), 0.0);
  }
  // In a one-phrase query every instance is of this phrase: bm25() adds weight 1.0 per
  // instance of phrase i to f(qi, D).
  int n_inst = 0;
  int rc = api->xInstCount(fts, &n_inst);
  if (rc != SQLITE_OK) return rc;
  double& f = r->freq[static_cast<size_t>(it->second) * static_cast<size_t>(r->n_phrase) +
                      static_cast<size_t>(r->phrase)];
  for (int i = 0; i < n_inst; ++i) f += 1.0;
  return SQLITE_OK;
}

// dkb_bm25_all(chunks_fts, request): the whole query's scores into the request, once.
void bm25_all(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* ctx, int n_val,
              sqlite3_value** val) {
  auto* r = n_val == 1 ? static_cast<Request*>(sqlite3_value_pointer(val[0], kRequestType)) : nullptr;
  if (r == nullptr) {
    sqlite3_result_error(ctx, "dkb_bm25_all: needs the request pointer", -1);
    return;
  }
  // FTS5's bm25 (fts5_aux.c), term by term: k1 = 1.2, b = 0.75, avgdl over the whole table,
  // IDF = log((N - nHit + 0.5) / (nHit + 0.5)) clamped to 1e-6.
  const double k1 = 1.2;
  const double b = 0.75;
  r->n_phrase = api->xPhraseCount(fts);
  sqlite3_int64 n_row = 0, n_token = 0;
  int rc = api->xRowCount(fts, &n_row);
  if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &n_token);
  double avgdl = static_cast<double>(n_token) / static_cast<double>(n_row);
  std::vector<double> idf(static_cast<size_t>(r->n_phrase));
  for (int i = 0; rc == SQLITE_OK && i < r->n_phrase; ++i) {
    r->phrase = i;
    r->hits = 0;
    rc = api->xQueryPhrase(fts, i, r, on_phrase_row);
    if (rc == SQLITE_OK) {
      double v = log((n_row - r->hits + 0.5) / (r->hits + 0.5));
      if (v <= 0.0) v = 1e-6;
      idf[static_cast<size_t>(i)] = v;
    }
  }
  if (rc != SQLITE_OK) {
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  r->out.reserve(r->rowid.size());
  for (size_t s = 0; s < r->rowid.size(); ++s) {
    double D = r->length[s];
    double score = 0.0;
    for (int i = 0; i < r->n_phrase; ++i) {
      double f = r->freq[s * static_cast<size_t>(r->n_phrase) + static_cast<size_t>(i)];
      score += idf[static_cast<size_t>(i)] * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * D / avgdl)));
    }
    r->out.push_back({-1.0 * score, r->rowid[s]});
  }
  sqlite3_result_int(ctx, 1);
}

}  // namespace

Status register_bm25_function(sqlite3* db) {
  fts5_api* api = fts5_api_of(db);
  if (api == nullptr) return failed_precondition("SQLite was built without FTS5 (fts5_api unavailable)");
  int rc = api->xCreateFunction(api, "dkb_bm25_all", nullptr, bm25_all, nullptr);
  if (rc != SQLITE_OK) {
    return internal_error(std::string("registering dkb_bm25_all: ") + sqlite3_errstr(rc));
  }
  return Status::ok();
}

Result<std::vector<Bm25Match>> bm25_matches(sqlite3* db, const std::string& match,
                                            const IdBitmap& allow,
                                            const std::vector<uint16_t>& doc_len) {
  Request r;
  r.allow = &allow;
  r.doc_len = &doc_len;
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(db, "SELECT dkb_bm25_all(chunks_fts, ?2) FROM chunks_fts "
                                      "WHERE chunks_fts MATCH ?1 LIMIT 1"));
  st.bind(1, match).bind_pointer(2, &r, kRequestType);
  DKB_RETURN_IF_ERROR(st.run());
  return std::move(r.out);
}

Status read_doc_lengths(sqlite3* db, std::vector<uint16_t>& doc_len, int64_t from, int64_t to) {
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(db, "SELECT id, sz FROM chunks_fts_docsize WHERE id BETWEEN ? AND ?"));
  st.bind(1, from).bind(2, to);
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    int64_t id = st.col_int(0);
    if (id < 0 || id > (int64_t{1} << 40)) continue;  // never expected; leave it to FTS5
    // One SQLite varint per column (big-endian 7-bit groups; a 9th byte carries 8 bits).
    auto sz = st.col_blob(1);
    uint64_t v = 0;
    size_t i = 0;
    for (; i < sz.size() && i < 8; ++i) {
      v = (v << 7) | (sz[i] & 0x7f);
      if ((sz[i] & 0x80) == 0) break;
    }
    if (i == 8 && i < sz.size()) v = (v << 8) | sz[i];
    auto idx = static_cast<size_t>(id);
    if (idx >= doc_len.size()) doc_len.resize(std::max(idx + 1, doc_len.size() + doc_len.size() / 4), 0);
    doc_len[idx] = v < 65536 && i < sz.size() ? static_cast<uint16_t>(v) : 0;
  }
  return Status::ok();
}

}  // namespace dkb::kb
