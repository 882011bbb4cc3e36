// Chroma record reads:
//   GET  .../collections/{id}/count   → number of records
//   POST .../collections/{id}/get     {ids?, where?, where_document?, limit?, offset?, include?}
//        → {ids, embeddings, documents, metadatas, uris, include}   (ordered by id)
//   POST .../collections/{id}/query   {query_embeddings | query_texts, n_results?, ids?, where?,
//                                      where_document?, include?}
//        → the same fields, one list per query, plus distances (lower is better, in the
//          collection's space: squared L2 by default, 1 − cosine similarity, 1 − dot product).
// Fields not asked for in `include` are null, as in Chroma.
#include <set>

#include "chroma_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

using chroma::error;

json document_json(const std::string& text) {
  return text.empty() ? json(nullptr) : json(text);
}

// The record's embedding (its first chunk's vector); null when it has none.
Result<json> embedding_json(kb::Store& store, const std::string& collection,
                            const std::string& id) {
  DKB_ASSIGN_OR_RETURN(auto chunks, store.get_chunks(collection, id));
  if (chunks.empty() || chunks[0].vector.empty()) return json(nullptr);
  return json(chunks[0].vector);
}

// Fills the include'd columns of `out` (arrays) from hits.
Status fill_columns(kb::Store& store, const std::string& collection,
                    const std::vector<kb::SearchHit>& hits, const std::vector<std::string>& include,
                    json& out) {
  json ids = json::array(), docs = json::array(), metas = json::array(), embs = json::array();
  for (const auto& h : hits) {
    ids.push_back(h.document_id);
    docs.push_back(document_json(h.text));
    metas.push_back(chroma::public_metadata(h.metadata));
    if (chroma::has(include, "embeddings")) {
      DKB_ASSIGN_OR_RETURN(json e, embedding_json(store, collection, h.document_id));
      embs.push_back(std::move(e));
    }
  }
  out["ids"] = std::move(ids);
  out["documents"] = chroma::has(include, "documents") ? docs : json(nullptr);
  out["metadatas"] = chroma::has(include, "metadatas") ? metas : json(nullptr);
  out["embeddings"] = chroma::has(include, "embeddings") ? embs : json(nullptr);
  out["uris"] = chroma::has(include, "uris") ? json(std::vector<json>(hits.size())) : json(nullptr);
  return Status::ok();
}

void get_records(App& app, const kb::Collection& coll, const json& body, http::Responder& resp) {
  kb::Store& store = *app.kb_store();
  auto ids = chroma::get_ids(body, "ids");
  if (!ids.is_ok()) return resp.respond(error(ids.status()));
  auto where = chroma::get_where(body, "where");
  if (!where.is_ok()) return resp.respond(error(where.status()));
  auto where_doc = chroma::get_where(body, "where_document");
  if (!where_doc.is_ok()) return resp.respond(error(where_doc.status()));
  auto limit = get_int(body, "limit", INT64_MAX, 0, INT64_MAX);
  if (!limit.is_ok()) return resp.respond(error(limit.status()));
  auto offset = get_int(body, "offset", 0, 0, INT64_MAX);
  if (!offset.is_ok()) return resp.respond(error(offset.status()));
  auto include = chroma::get_include(body, {"documents", "embeddings", "metadatas", "uris"},
                                     {"documents", "metadatas"});
  if (!include.is_ok()) return resp.respond(error(include.status()));

  auto hits = chroma::matching_records(store, coll.name, *where, *where_doc);
  if (!hits.is_ok()) return resp.respond(error(hits.status()));
  std::vector<kb::SearchHit> selected;
  std::set<std::string> allow;
  if (*ids) allow.insert((*ids)->begin(), (*ids)->end());
  int64_t skipped = 0;
  for (auto& h : *hits) {
    if (*ids && !allow.count(h.document_id)) continue;
    if (skipped < *offset) {
      ++skipped;
      continue;
    }
    if (static_cast<int64_t>(selected.size()) >= *limit) break;
    selected.push_back(std::move(h));
  }
  json out = json::object();
  if (Status s = fill_columns(store, coll.name, selected, *include, out); !s.is_ok()) {
    return resp.respond(error(s));
  }
  out["include"] = *include;
  resp.respond(chroma::ok(out));
}

void query_records(App& app, const kb::Collection& coll, const json& body, http::Responder& resp) {
  kb::Store& store = *app.kb_store();
  auto embeddings = chroma::get_embeddings(body, "query_embeddings");
  if (!embeddings.is_ok()) return resp.respond(error(embeddings.status()));
  std::vector<std::vector<float>> queries;
  if (*embeddings) {
    queries = std::move(**embeddings);
  } else if (auto texts = body.find("query_texts");
             texts != body.end() && texts->is_array() && !texts->empty()) {
    kb::Embedder* emb = app.kb_embedder();
    if (!emb) {
      return resp.respond(
          error(invalid_argument("query_texts need the server's embedding model: pass "
                                 "'query_embeddings', or start deepkb serve with --embed-model")));
    }
    std::vector<std::string> list;
    for (const auto& t : *texts) {
      if (!t.is_string())
        return resp.respond(error(invalid_argument("'query_texts' must contain strings")));
      list.push_back(t.get<std::string>());
    }
    for (size_t start = 0; start < list.size(); start += std::max<size_t>(1, emb->max_batch())) {
      size_t end = std::min(list.size(), start + std::max<size_t>(1, emb->max_batch()));
      std::vector<std::string> batch(list.begin() + static_cast<std::ptrdiff_t>(start),
                                     list.begin() + static_cast<std::ptrdiff_t>(end));
      auto vecs = emb->embed(batch);
      if (!vecs.is_ok()) return resp.respond(error(vecs.status()));
      for (auto& v : *vecs) queries.push_back(std::move(v));
    }
  } else {
    return resp.respond(error(
        invalid_argument("query needs 'query_embeddings' or 'query_texts' (non-empty arrays)")));
  }
  auto n_results = get_int(body, "n_results", 10, 1, 100000);
  if (!n_results.is_ok()) return resp.respond(error(n_results.status()));
  auto ids = chroma::get_ids(body, "ids");
  if (!ids.is_ok()) return resp.respond(error(ids.status()));
  auto where = chroma::get_where(body, "where");
  if (!where.is_ok()) return resp.respond(error(where.status()));
  auto where_doc = chroma::get_where(body, "where_document");
  if (!where_doc.is_ok()) return resp.respond(error(where_doc.status()));
  auto include =
      chroma::get_include(body, {"documents", "embeddings", "metadatas", "distances", "uris"},
                          {"metadatas", "documents", "distances"});
  if (!include.is_ok()) return resp.respond(error(include.status()));
  auto metric = chroma::metric_of(coll);
  if (!metric.is_ok()) return resp.respond(error(metric.status()));
  for (const auto& q : queries) {
    if (coll.dimension != 0 && q.size() != coll.dimension) {
      return resp.respond(error(
          invalid_argument("Collection expecting embedding with dimension of " +
                           std::to_string(coll.dimension) + ", got " + std::to_string(q.size()))));
    }
  }
  std::set<std::string> allow;
  if (*ids) allow.insert((*ids)->begin(), (*ids)->end());
  auto count = store.count_chunks(coll.name);
  if (!count.is_ok()) return resp.respond(error(count.status()));

  json out = {{"ids", json::array()},       {"documents", json::array()},
              {"metadatas", json::array()}, {"embeddings", json::array()},
              {"distances", json::array()}, {"uris", json::array()}};
  for (const auto& q : queries) {
    std::vector<kb::SearchHit> hits;
    if (coll.dimension != 0 && *count > 0) {
      kb::SearchRequest sr;
      sr.mode = kb::SearchMode::kVector;
      sr.vector = q;
      // With an id restriction, rank everything and keep the allowed ids (exact index).
      sr.k = *ids ? static_cast<size_t>(*count) : static_cast<size_t>(*n_results);
      sr.where = *where;
      sr.where_document = *where_doc;
      auto res = app.search_kb(coll.name, sr, /*chroma=*/true);
      if (!res.is_ok()) return resp.respond(error(res.status()));
      std::set<std::string> seen;
      for (auto& h : res->hits) {
        if (*ids && !allow.count(h.document_id)) continue;
        if (!seen.insert(h.document_id).second) continue;
        if (static_cast<int64_t>(hits.size()) >= *n_results) break;
        hits.push_back(std::move(h));
      }
    }
    json cols = json::object();
    if (Status s = fill_columns(store, coll.name, hits, *include, cols); !s.is_ok())
      return resp.respond(error(s));
    json dist = json::array();
    for (const auto& h : hits) dist.push_back(chroma::distance_from_score(h.score, *metric));
    for (const char* k : {"ids", "documents", "metadatas", "embeddings", "uris"})
      out[k].push_back(cols[k]);
    out["distances"].push_back(std::move(dist));
  }
  for (const char* k : {"documents", "metadatas", "embeddings", "distances", "uris"}) {
    if (!chroma::has(*include, k)) out[k] = nullptr;
  }
  out["include"] = *include;
  resp.respond(chroma::ok(out));
}

}  // namespace

void handle_chroma_read(App& app, const kb::Collection& coll, const std::string& op,
                        const http::Request& req, http::Responder& resp) {
  if (op == "count") {
    auto docs = app.kb_store()->list_documents(coll.name);
    if (!docs.is_ok()) return resp.respond(error(docs.status()));
    return resp.respond(chroma::ok(docs->size()));
  }
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error(body.status()));
  if (op == "get") return get_records(app, coll, *body, resp);
  query_records(app, coll, *body, resp);
}

}  // namespace dkb::server
