#include "fts5_bm25.h"

#include <algorithm>
#include <cmath>

#include "fts5_tokenizer.h"
#include "sqlite_util.h"

namespace dkb::kb {
namespace {

constexpr const char* kRequestType = "dkb_bm25_request";

// One allowed row matching one phrase.
struct Posting {
  int64_t rowid;
  int32_t instances;  // of the phrase in the row
  int32_t length;     // the row's token count when FTS5 had to be asked; else 0
};

struct Request {
  const IdBitmap* allow = nullptr;
  const std::vector<uint16_t>* doc_len = nullptr;
  std::vector<Bm25Match> out;
  // While walking the phrases: each phrase's allowed postings, in rowid order (xQueryPhrase
  // visits rows by ascending rowid), merged afterwards — no per-row lookups.
  std::vector<std::vector<Posting>> postings;
  int phrase = 0;
  int64_t hits = 0;  // rows matching the current phrase, in the whole table (for its IDF)
};

int on_phrase_row(const Fts5ExtensionApi* api, Fts5Context* fts, void* user) {
  auto* r = static_cast<Request*>(user);
  ++r->hits;
  int64_t id = api->xRowid(fts);
  if (!r->allow->contains(id)) return SQLITE_OK;
  Posting p{id, 0, 0};
  int rc = api->xInstCount(fts, &p.instances);
  if (rc != SQLITE_OK) return rc;
  auto idx = static_cast<size_t>(id);
  if (idx >= r->doc_len->size() || (*r->doc_len)[idx] == 0) {
    rc = api->xColumnSize(fts, -1, &p.length);
    if (rc != SQLITE_OK) return rc;
  }
  r->postings[static_cast<size_t>(r->phrase)].push_back(p);
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
  const int n_phrase = api->xPhraseCount(fts);
  const auto np = static_cast<size_t>(n_phrase);
  sqlite3_int64 n_row = 0, n_token = 0;
  int rc = api->xRowCount(fts, &n_row);
  if (rc == SQLITE_OK) rc = api->xColumnTotalSize(fts, -1, &n_token);
  double avgdl = static_cast<double>(n_token) / static_cast<double>(n_row);
  std::vector<double> idf(np);
  r->postings.assign(np, {});
  for (int i = 0; rc == SQLITE_OK && i < n_phrase; ++i) {
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
  // Merge the phrases' rowid-ordered postings; each row is scored with its frequencies of
  // every phrase in phrase order (0 for the phrases it lacks), as bm25() sums them.
  std::vector<size_t> at(np, 0);
  std::vector<double> freq(np);
  for (;;) {
    int64_t id = INT64_MAX;
    for (size_t i = 0; i < np; ++i) {
      if (at[i] < r->postings[i].size()) id = std::min(id, r->postings[i][at[i]].rowid);
    }
    if (id == INT64_MAX) break;
    int32_t length = 0;
    for (size_t i = 0; i < np; ++i) {
      freq[i] = 0.0;
      if (at[i] < r->postings[i].size() && r->postings[i][at[i]].rowid == id) {
        const Posting& p = r->postings[i][at[i]++];
        freq[i] = static_cast<double>(p.instances);  // weight 1.0 per instance
        if (p.length != 0) length = p.length;
      }
    }
    auto idx = static_cast<size_t>(id);
    double D = length != 0 ? length : (*r->doc_len)[idx];
    double score = 0.0;
    for (size_t i = 0; i < np; ++i) {
      score += idf[i] * ((freq[i] * (k1 + 1.0)) / (freq[i] + k1 * (1 - b + b * D / avgdl)));
    }
    r->out.push_back({-1.0 * score, id});
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
