// Reads and searches of SqliteStore (writes are in sqlite_store.cpp).
#include <algorithm>
#include <cstring>
#include <iterator>
#include <unordered_map>

#include "fts5_bm25.h"
#include "kb/filter.h"
#include "kb/text_tokenizer.h"
#include "sqlite_store_impl.h"

namespace dkb::kb {
namespace {

// Columns shared by every chunk → SearchHit read; `c` is chunks, `d` is documents.
constexpr const char* kHitColumns =
    "c.id, d.ext_id, c.ordinal, c.text, c.heading_path, c.page, c.metadata";

Result<SearchHit> read_hit(const sql::Stmt& st) {
  SearchHit h;
  h.chunk_id = st.col_int(0);
  h.document_id = st.col_text(1);
  h.ordinal = static_cast<int32_t>(st.col_int(2));
  h.text = st.col_text(3);
  DKB_ASSIGN_OR_RETURN(Json path, parse_json_column(st.col_text(4), "heading_path"));
  if (!path.is_array()) return corruption("stored heading_path is not an array");
  for (const auto& p : path)
    h.heading_path.push_back(p.is_string() ? p.get<std::string>() : p.dump());
  h.page = static_cast<int32_t>(st.col_int(5));
  DKB_ASSIGN_OR_RETURN(h.metadata, parse_json_column(st.col_text(6), "chunk metadata"));
  return h;
}

}  // namespace

Result<Collection> SqliteStore::get_collection_locked(std::string_view name) {
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(
                   db_, "SELECT id, name, metadata, dimension FROM collections WHERE name=?"));
  st.bind(1, name);
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("collection " + std::string(name) + " not found");
  Collection c;
  c.id = st.col_int(0);
  c.name = st.col_text(1);
  DKB_ASSIGN_OR_RETURN(c.metadata, parse_json_column(st.col_text(2), "collection metadata"));
  c.dimension = static_cast<uint32_t>(st.col_int(3));
  return c;
}

Result<Collection> SqliteStore::get_collection(std::string_view name) {
  std::lock_guard lock(mu_);
  return get_collection_locked(name);
}

Result<std::vector<Collection>> SqliteStore::list_collections() {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(
                   db_, "SELECT id, name, metadata, dimension FROM collections ORDER BY name"));
  std::vector<Collection> out;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    Collection c;
    c.id = st.col_int(0);
    c.name = st.col_text(1);
    DKB_ASSIGN_OR_RETURN(c.metadata, parse_json_column(st.col_text(2), "collection metadata"));
    c.dimension = static_cast<uint32_t>(st.col_int(3));
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<Document>> SqliteStore::list_documents(std::string_view collection, size_t limit,
                                                          size_t offset) {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(
                   db_,
                   "SELECT d.ext_id, d.source, d.title, d.content_hash, d.metadata, "
                   "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id) "
                   "FROM documents d WHERE d.collection_id=? ORDER BY d.ext_id LIMIT ? OFFSET ?"));
  st.bind(1, coll.id)
      .bind(2, limit > static_cast<size_t>(INT64_MAX) ? int64_t{-1} : static_cast<int64_t>(limit))
      .bind(3, static_cast<int64_t>(offset));
  std::vector<Document> out;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    Document d;
    d.id = st.col_text(0);
    d.collection = coll.name;
    d.source = st.col_text(1);
    d.title = st.col_text(2);
    d.content_hash = st.col_text(3);
    DKB_ASSIGN_OR_RETURN(d.metadata, parse_json_column(st.col_text(4), "document metadata"));
    d.n_chunks = st.col_int(5);
    out.push_back(std::move(d));
  }
  return out;
}

Result<Document> SqliteStore::get_document(std::string_view collection, std::string_view doc_id) {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(db_,
                                  "SELECT d.ext_id, d.source, d.title, d.content_hash, d.metadata, "
                                  "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id) "
                                  "FROM documents d WHERE d.collection_id=? AND d.ext_id=?"));
  st.bind(1, coll.id).bind(2, doc_id);
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return not_found("document " + std::string(doc_id) + " not found in " + coll.name);
  Document d;
  d.id = st.col_text(0);
  d.collection = coll.name;
  d.source = st.col_text(1);
  d.title = st.col_text(2);
  d.content_hash = st.col_text(3);
  DKB_ASSIGN_OR_RETURN(d.metadata, parse_json_column(st.col_text(4), "document metadata"));
  d.n_chunks = st.col_int(5);
  return d;
}

Result<std::vector<Chunk>> SqliteStore::get_chunks(std::string_view collection,
                                                   std::string_view doc_id) {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  DKB_ASSIGN_OR_RETURN(
      auto st,
      sql::Stmt::prepare(
          db_,
          "SELECT c.id, d.ext_id, c.ordinal, c.text, c.heading_path, c.page, c.metadata, "
          "c.start_offset, c.end_offset, c.vector FROM chunks c JOIN documents d "
          "ON d.id = c.document_id WHERE d.collection_id=? AND d.ext_id=? ORDER BY c.ordinal"));
  st.bind(1, coll.id).bind(2, doc_id);
  std::vector<Chunk> out;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    DKB_ASSIGN_OR_RETURN(SearchHit h, read_hit(st));
    Chunk c;
    c.id = h.chunk_id;
    c.document_id = std::move(h.document_id);
    c.ordinal = h.ordinal;
    c.text = std::move(h.text);
    c.heading_path = std::move(h.heading_path);
    c.page = h.page;
    c.metadata = std::move(h.metadata);
    c.start_offset = st.col_int(7);
    c.end_offset = st.col_int(8);
    auto blob = st.col_blob(9);
    if (blob.size() % sizeof(float) != 0)
      return corruption("chunk vector size is not a multiple of 4");
    c.vector.resize(blob.size() / sizeof(float));
    if (!blob.empty()) std::memcpy(c.vector.data(), blob.data(), blob.size());
    out.push_back(std::move(c));
  }
  return out;
}

Result<int64_t> SqliteStore::count_chunks(std::string_view collection) {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(db_, "SELECT count(*) FROM chunks WHERE collection_id=?"));
  st.bind(1, coll.id);
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.col_int(0) : int64_t{0};
}

Result<std::vector<SearchHit>> SqliteStore::text_search(std::string_view collection,
                                                        const TextQuery& query) {
  DKB_ASSIGN_OR_RETURN(WhereNode where, parse_where(query.where));
  DKB_ASSIGN_OR_RETURN(CompiledFilter doc_filter,
                       compile_where_document(query.where_document, "c.text"));
  std::string match = fts5_match_expression(query.text);
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  std::vector<SearchHit> out;
  if (match.empty() || query.k == 0) return out;
  // Which rows may rank: the collection's chunks (or those matching `where`), from memory,
  // so neither the collection check nor the filter reads a chunk row.
  IdBitmap selected;
  const IdBitmap* allow = &selected;
  if (!where.children.empty()) {
    DKB_ASSIGN_OR_RETURN(auto ids, select_locked(coll, query.where, where));
    selected = IdBitmap(*ids);
  } else {
    DKB_ASSIGN_OR_RETURN(const MetadataIndex* cat, catalog_locked(coll, false));
    allow = &cat->members();
  }
  DKB_RETURN_IF_ERROR(doc_lengths_locked());
  DKB_ASSIGN_OR_RETURN(auto scored, bm25_matches(db_, match, *allow, doc_len_));
  // bm25 ascending (best first), ties by rowid: the order of "ORDER BY bm25(chunks_fts)".
  auto before = [](const Bm25Match& a, const Bm25Match& b) {
    return a.bm25 != b.bm25 ? a.bm25 < b.bm25 : a.rowid < b.rowid;
  };
  std::vector<int64_t> ids;
  std::vector<double> bm25;
  if (doc_filter.sql == "1") {
    size_t n = std::min(query.k, scored.size());
    std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(n), scored.end(), before);
    for (size_t i = 0; i < n; ++i) {
      ids.push_back(scored[i].rowid);
      bm25.push_back(scored[i].bm25);
    }
  } else {
    // where_document needs the text: test candidates in rank order until k pass.
    std::sort(scored.begin(), scored.end(), before);
    DKB_ASSIGN_OR_RETURN(auto check, sql::Stmt::prepare(db_, "SELECT 1 FROM chunks c WHERE c.id = ? AND (" +
                                                                 doc_filter.sql + ")"));
    for (size_t i = 0; i < scored.size() && ids.size() < query.k; ++i) {
      check.bind(1, scored[i].rowid);
      check.bind_filter(2, doc_filter);
      DKB_ASSIGN_OR_RETURN(bool pass, check.step());
      check.reset();
      if (!pass) continue;
      ids.push_back(scored[i].rowid);
      bm25.push_back(scored[i].bm25);
    }
  }
  DKB_ASSIGN_OR_RETURN(out, get_hits_locked(ids));
  for (size_t i = 0; i < out.size(); ++i) {
    // get_hits_locked keeps the order and every id (all are live rows under this lock).
    out[i].score = -bm25[i];
    // Highlighting in C++ rather than FTS5's highlight(): that marks only the first token of
    // a position, i.e. one character of a CJK bigram.
    if (query.highlight) {
      out[i].highlighted =
          highlight_text(out[i].text, query.text, query.highlight_open, query.highlight_close);
    }
  }
  return out;
}

Result<std::vector<int64_t>> SqliteStore::filter_chunk_ids(std::string_view collection,
                                                           const Json& where,
                                                           const Json& where_document) {
  DKB_ASSIGN_OR_RETURN(WhereNode tree, parse_where(where));
  DKB_ASSIGN_OR_RETURN(CompiledFilter doc_filter, compile_where_document(where_document, "c.text"));
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  std::vector<int64_t> out;
  bool filtered = !tree.children.empty();
  if (filtered) {
    DKB_ASSIGN_OR_RETURN(auto ids, select_locked(coll, where, tree));
    out = *ids;
  } else if (doc_filter.sql == "1") {
    DKB_ASSIGN_OR_RETURN(const MetadataIndex* cat, catalog_locked(coll, false));
    out = cat->ids();
  }
  if (doc_filter.sql == "1") return out;
  // where_document tests the text, which only SQLite holds.
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(db_, "SELECT c.id FROM chunks c WHERE c.collection_id = ? AND (" +
                                           doc_filter.sql + ") ORDER BY c.id"));
  st.bind(1, coll.id);
  st.bind_filter(2, doc_filter);
  std::vector<int64_t> by_text;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    by_text.push_back(st.col_int(0));
  }
  if (!filtered) return by_text;
  std::vector<int64_t> both;
  std::set_intersection(out.begin(), out.end(), by_text.begin(), by_text.end(), std::back_inserter(both));
  return both;
}

Status SqliteStore::for_each_vector(
    std::string_view collection, const std::function<void(int64_t, std::span<const float>)>& fn) {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  return for_each_vector_locked(coll, fn);
}

Result<uint64_t> SqliteStore::snapshot_vectors(
    std::string_view collection, const std::function<void(int64_t, std::span<const float>)>& fn) {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  DKB_RETURN_IF_ERROR(for_each_vector_locked(coll, fn));
  DKB_ASSIGN_OR_RETURN(auto st,
                       sql::Stmt::prepare(db_, "SELECT generation FROM collections WHERE id=?"));
  st.bind(1, coll.id);
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? static_cast<uint64_t>(st.col_int(0)) : uint64_t{0};
}

Status SqliteStore::for_each_vector_locked(
    const Collection& coll, const std::function<void(int64_t, std::span<const float>)>& fn) {
  DKB_ASSIGN_OR_RETURN(
      auto st,
      sql::Stmt::prepare(
          db_, "SELECT id, vector FROM chunks WHERE collection_id = ? AND vector IS NOT NULL"));
  st.bind(1, coll.id);
  std::vector<float> buf;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    auto blob = st.col_blob(1);
    if (blob.size() != size_t{coll.dimension} * sizeof(float)) {
      return corruption("chunk " + std::to_string(st.col_int(0)) + " has a vector of " +
                        std::to_string(blob.size()) + " bytes, expected dimension " +
                        std::to_string(coll.dimension));
    }
    buf.resize(coll.dimension);
    std::memcpy(buf.data(), blob.data(), blob.size());
    fn(st.col_int(0), buf);
  }
  return Status::ok();
}

Result<std::vector<SearchHit>> SqliteStore::get_hits(std::span<const int64_t> chunk_ids) {
  std::lock_guard lock(mu_);
  return get_hits_locked(chunk_ids);
}

Result<std::vector<SearchHit>> SqliteStore::get_hits_locked(std::span<const int64_t> chunk_ids) {
  std::vector<SearchHit> out;
  if (chunk_ids.empty()) return out;
  DKB_ASSIGN_OR_RETURN(
      auto st,
      sql::Stmt::prepare(db_, std::string("SELECT ") + kHitColumns +
                                  " FROM chunks c JOIN documents d ON d.id = c.document_id "
                                  "WHERE c.id IN (SELECT value FROM json_each(?))"));
  st.bind(1, Json(std::vector<int64_t>(chunk_ids.begin(), chunk_ids.end())).dump());
  std::unordered_map<int64_t, SearchHit> by_id;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    DKB_ASSIGN_OR_RETURN(SearchHit h, read_hit(st));
    by_id.emplace(h.chunk_id, std::move(h));
  }
  for (int64_t id : chunk_ids) {
    auto it = by_id.find(id);
    if (it != by_id.end()) out.push_back(std::move(it->second));
  }
  return out;
}

uint64_t SqliteStore::generation(std::string_view collection) {
  std::lock_guard lock(mu_);
  auto g = generation_locked(collection);
  return g.is_ok() ? *g : 0;
}

Result<uint64_t> SqliteStore::generation_locked(std::string_view collection) {
  auto it = generations_.find(collection);
  if (it != generations_.end()) return it->second;
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_, "SELECT generation FROM collections WHERE name=?"));
  st.bind(1, collection);
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return uint64_t{0};
  auto g = static_cast<uint64_t>(st.col_int(0));
  generations_.emplace(std::string(collection), g);
  return g;
}

Result<std::vector<LinkRecord>> SqliteStore::list_links(std::string_view collection) {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  DKB_ASSIGN_OR_RETURN(
      auto st, sql::Stmt::prepare(db_,
                                  "SELECT d.ext_id, l.target, l.heading, l.alias, l.embed "
                                  "FROM links l JOIN documents d ON d.id = l.document_id "
                                  "WHERE d.collection_id=? ORDER BY d.ext_id, l.position"));
  st.bind(1, coll.id);
  std::vector<LinkRecord> out;
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    LinkRecord r;
    r.source_id = st.col_text(0);
    r.link.target = st.col_text(1);
    r.link.heading = st.col_text(2);
    r.link.alias = st.col_text(3);
    r.link.embed = st.col_int(4) != 0;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace dkb::kb
