// Chroma record writes: POST .../collections/{id}/add | upsert | update | delete.
//
// Body of add/upsert/update: {ids, embeddings?, metadatas?, documents?, uris?} with parallel
// arrays. Each record becomes one kb document with exactly one chunk (text = the record's
// document, vector = its embedding). Records sent with documents but without embeddings are
// embedded by the server's embedding model. Semantics follow Chroma: add refuses ids that
// already exist (409); update skips unknown ids and merges metadata (a null value removes the
// key); upsert updates existing records and adds the others. An update that changes a document
// without an embedding re-embeds it only when the server's model matches the collection's
// dimension, else the record keeps its embedding. The whole request is validated
// (and embedded) before anything is written, and the records are written in one store
// transaction, so a bad request changes nothing.
// delete: {ids?, where?, where_document?, limit?} → {"deleted": n}.
#include <map>
#include <set>

#include "chroma_util.h"
#include "kb/filter.h"
#include "kb/hash.h"
#include "routes.h"

namespace dkb::server {
namespace {

using chroma::error;

struct RecordSet {
  std::vector<std::string> ids;
  std::optional<std::vector<std::vector<float>>> embeddings;
  std::vector<json> metadatas;  // per record: object or null (not given)
  std::vector<json> documents;  // per record: string or null (not given)
};

Result<RecordSet> parse_records(const json& body, bool allow_null_values) {
  RecordSet rs;
  DKB_ASSIGN_OR_RETURN(auto ids, chroma::get_ids(body, "ids"));
  if (!ids || ids->empty()) return invalid_argument("'ids' must be a non-empty array of strings");
  if (ids->size() > chroma::kMaxBatch) {
    return invalid_argument("at most " + std::to_string(chroma::kMaxBatch) +
                            " records per request");
  }
  rs.ids = std::move(*ids);
  const size_t n = rs.ids.size();
  DKB_ASSIGN_OR_RETURN(rs.embeddings, chroma::get_embeddings(body, "embeddings"));
  if (rs.embeddings && rs.embeddings->size() != n) {
    return invalid_argument("Inconsistent number of records: " + std::to_string(n) + " ids, " +
                            std::to_string(rs.embeddings->size()) + " embeddings");
  }
  rs.metadatas.assign(n, nullptr);
  rs.documents.assign(n, nullptr);
  for (const char* key : {"metadatas", "documents"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_array() || it->size() != n) {
      return invalid_argument(std::string("'") + key +
                              "' must be an array with one entry per id (" + std::to_string(n) +
                              ")");
    }
    bool meta = key[0] == 'm';
    for (size_t i = 0; i < n; ++i) {
      const json& v = (*it)[i];
      if (v.is_null()) continue;
      if (meta) {
        if (!v.is_object())
          return invalid_argument("metadatas[" + std::to_string(i) + "] must be an object or null");
        json check = json::object();
        for (auto kv = v.begin(); kv != v.end(); ++kv) {
          if (kv.value().is_null() && allow_null_values) continue;
          check[kv.key()] = kv.value();
        }
        if (Status s = kb::validate_metadata(check); !s.is_ok()) {
          return s.with_context("metadatas[" + std::to_string(i) + "]");
        }
        rs.metadatas[i] = v;
      } else {
        if (!v.is_string())
          return invalid_argument("documents[" + std::to_string(i) + "] must be a string or null");
        rs.documents[i] = v;
      }
    }
  }
  if (auto it = body.find("uris"); it != body.end() && it->is_array()) {
    for (const auto& u : *it) {
      if (!u.is_null()) return invalid_argument("'uris' are not supported by deepkb");
    }
  }
  return rs;
}

// Embeds documents[i] for each i in `todo` with the server's model.
Status embed_documents(App& app, const RecordSet& rs, const std::vector<size_t>& todo,
                       std::map<size_t, std::vector<float>>& out) {
  if (todo.empty()) return Status::ok();
  kb::Embedder* emb = app.kb_embedder();
  if (!emb) {
    return invalid_argument(
        "records without embeddings need the server's embedding model: pass "
        "'embeddings', or start deepkb serve with --embed-model");
  }
  size_t batch = std::max<size_t>(1, emb->max_batch());
  for (size_t start = 0; start < todo.size(); start += batch) {
    std::vector<std::string> texts;
    for (size_t k = start; k < std::min(todo.size(), start + batch); ++k) {
      texts.push_back(rs.documents[todo[k]].get<std::string>());
    }
    DKB_ASSIGN_OR_RETURN(auto vecs, emb->embed(texts));
    if (vecs.size() != texts.size())
      return internal_error("embedder returned the wrong number of vectors");
    for (size_t k = 0; k < vecs.size(); ++k) out[todo[start + k]] = std::move(vecs[k]);
  }
  return Status::ok();
}

struct Pending {
  kb::Document doc;
  kb::Chunk chunk;
};

std::string record_hash(const Pending& p) {
  std::string_view vec(reinterpret_cast<const char*>(p.chunk.vector.data()),
                       p.chunk.vector.size() * sizeof(float));
  return kb::content_hash({p.chunk.text, p.doc.metadata.dump(), vec});
}

void write_records(App& app, const kb::Collection& coll, const std::string& op, const json& body,
                   http::Responder& resp) {
  kb::Store& store = *app.kb_store();
  auto rs = parse_records(body, op != "add");
  if (!rs.is_ok()) return resp.respond(error(rs.status()));
  const size_t n = rs->ids.size();

  // Existing records (document + its first chunk) by index.
  std::map<size_t, Pending> existing;
  for (size_t i = 0; i < n; ++i) {
    auto d = store.get_document(coll.name, rs->ids[i]);
    if (!d.is_ok()) {
      if (d.status().code() == ErrorCode::kNotFound) continue;
      return resp.respond(error(d.status()));
    }
    auto chunks = store.get_chunks(coll.name, rs->ids[i]);
    if (!chunks.is_ok()) return resp.respond(error(chunks.status()));
    Pending p{*d, chunks->empty() ? kb::Chunk{} : (*chunks)[0]};
    existing.emplace(i, std::move(p));
  }
  if (op == "add" && !existing.empty()) {
    std::string list;
    for (const auto& [i, p] : existing) list += (list.empty() ? "" : ", ") + rs->ids[i];
    return resp.respond(
        error(already_exists("IDs already exist in collection " + coll.name + ": " + list)));
  }

  // Which records need the server to embed their document.
  std::vector<size_t> todo;
  for (size_t i = 0; i < n; ++i) {
    bool is_new = !existing.count(i);
    if (op == "update" && is_new) continue;
    if (rs->embeddings) continue;
    if (rs->documents[i].is_string()) {
      // An existing record whose document changes is re-embedded only when the server's
      // model produces the collection's dimension; otherwise it keeps its embedding (Chroma's
      // server never embeds: its clients send the vectors).
      kb::Embedder* emb = app.kb_embedder();
      bool can_embed = emb && (coll.dimension == 0 || emb->dimension() == coll.dimension);
      if (is_new || can_embed) todo.push_back(i);
    } else if (is_new) {
      return resp.respond(error(
          invalid_argument("record '" + rs->ids[i] + "' has neither an embedding nor a document")));
    }
  }
  std::map<size_t, std::vector<float>> computed;
  if (Status s = embed_documents(app, *rs, todo, computed); !s.is_ok())
    return resp.respond(error(s));

  std::vector<Pending> writes;
  uint32_t dim = coll.dimension;
  for (size_t i = 0; i < n; ++i) {
    auto ex = existing.find(i);
    if (op == "update" && ex == existing.end()) continue;  // Chroma ignores unknown ids
    Pending p;
    if (ex != existing.end()) {
      p = ex->second;
    } else {
      p.doc.id = rs->ids[i];
    }
    p.doc.collection = coll.name;
    p.doc.content_hash.clear();
    if (rs->metadatas[i].is_object()) {
      if (ex == existing.end()) p.doc.metadata = json::object();
      for (auto kv = rs->metadatas[i].begin(); kv != rs->metadatas[i].end(); ++kv) {
        if (kv.value().is_null())
          p.doc.metadata.erase(kv.key());
        else
          p.doc.metadata[kv.key()] = kv.value();
      }
    }
    if (rs->documents[i].is_string()) p.chunk.text = rs->documents[i].get<std::string>();
    if (rs->embeddings)
      p.chunk.vector = (*rs->embeddings)[i];
    else if (auto c = computed.find(i); c != computed.end())
      p.chunk.vector = c->second;
    // The chunk carries no metadata of its own: the store overlays it on the document's.
    p.chunk.metadata = json::object();
    p.chunk.ordinal = 0;
    p.chunk.start_offset = 0;
    p.chunk.end_offset = static_cast<int64_t>(p.chunk.text.size());
    if (!p.chunk.vector.empty()) {
      if (dim == 0) dim = static_cast<uint32_t>(p.chunk.vector.size());
      if (p.chunk.vector.size() != dim) {
        return resp.respond(error(invalid_argument(
            "Collection expecting embedding with dimension of " + std::to_string(dim) + ", got " +
            std::to_string(p.chunk.vector.size()))));
      }
    }
    p.doc.content_hash = record_hash(p);
    writes.push_back(std::move(p));
  }
  // One transaction: a failure (say, a dimension clash with a concurrent writer) writes nothing.
  std::vector<kb::DocumentWrite> batch;
  batch.reserve(writes.size());
  for (Pending& p : writes) batch.push_back({std::move(p.doc), {std::move(p.chunk)}});
  if (auto put = store.put_documents(coll.name, batch); !put.is_ok()) {
    return resp.respond(error(put.status()));
  }
  resp.respond(json_response(op == "add" ? 201 : 200, json::object()));
}

void delete_records(App& app, const kb::Collection& coll, const json& body, http::Responder& resp) {
  kb::Store& store = *app.kb_store();
  auto ids = chroma::get_ids(body, "ids");
  if (!ids.is_ok()) return resp.respond(error(ids.status()));
  auto where = chroma::get_where(body, "where");
  if (!where.is_ok()) return resp.respond(error(where.status()));
  auto where_doc = chroma::get_where(body, "where_document");
  if (!where_doc.is_ok()) return resp.respond(error(where_doc.status()));
  auto limit = get_int(body, "limit", INT64_MAX, 0, INT64_MAX);
  if (!limit.is_ok()) return resp.respond(error(limit.status()));
  if (!*ids && where->is_null() && where_doc->is_null()) {
    return resp.respond(error(invalid_argument("delete needs 'ids', 'where' or 'where_document'")));
  }
  std::vector<std::string> targets;
  if (where->is_null() && where_doc->is_null()) {
    targets = **ids;
  } else {
    auto hits = chroma::matching_records(store, coll.name, *where, *where_doc);
    if (!hits.is_ok()) return resp.respond(error(hits.status()));
    std::set<std::string> allow;
    if (*ids) allow.insert((*ids)->begin(), (*ids)->end());
    for (const auto& h : *hits) {
      if (!*ids || allow.count(h.document_id)) targets.push_back(h.document_id);
    }
  }
  if (static_cast<int64_t>(targets.size()) > *limit) {
    if (where->is_null() && where_doc->is_null()) {
      // Only ids that exist count towards the limit.
      std::erase_if(targets, [&](const std::string& id) {
        return !store.get_document(coll.name, id).is_ok();
      });
    }
    if (static_cast<int64_t>(targets.size()) > *limit) targets.resize(static_cast<size_t>(*limit));
  }
  auto deleted = store.delete_documents(coll.name, targets);
  if (!deleted.is_ok()) return resp.respond(error(deleted.status()));
  resp.respond(chroma::ok({{"deleted", *deleted}}));
}

}  // namespace

void handle_chroma_write(App& app, const kb::Collection& coll, const std::string& op,
                         const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error(body.status()));
  if (op == "delete") return delete_records(app, coll, *body, resp);
  write_records(app, coll, op, *body, resp);
}

}  // namespace dkb::server
