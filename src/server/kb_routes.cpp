// Knowledge-base routes (native API):
//   GET    /v1/kb                           list collections
//   POST   /v1/kb                           {name, metadata?} create a collection
//   GET    /v1/kb/{kb}                      a collection with its counts
//   DELETE /v1/kb/{kb}                      delete it with all documents
//   GET    /v1/kb/{kb}/documents            list documents
//   POST   /v1/kb/{kb}/documents            {documents: [{id, text, title?, format?, source?, metadata?}]}
//                                            (?async=true: as a job) or multipart/form-data files
//                                            (kb_upload_routes.cpp)
//   GET    /v1/kb/{kb}/documents/{id}       one document with links and backlinks (kb_vault_routes.cpp)
//   DELETE /v1/kb/{kb}/documents/{id}       delete one document (ids may contain '/')
//   GET    /v1/kb/{kb}/jobs[/{id}]          ingestion jobs (kb_upload_routes.cpp)
//   POST   /v1/kb/{kb}/vault/sync|notes     vault import; GET /v1/kb/{kb}/graph (kb_vault_routes.cpp)
//   POST   /v1/kb/{kb}/search               {query, top_k?, mode?: hybrid|vector|bm25, where?, where_document?}
//   POST   /v1/kb/{kb}/verify                check store and vector indexes (kb_maintenance_route.cpp)
//   POST   /v1/kb/{kb}/repair                rebuild what verify finds wrong
//   POST   /v1/kb/{kb}/ask                  {question, top_k?, filter?, search?, stream?, temperature?,
//                                            max_tokens?, model?, return_prompt?}  (RAG, ask_route.cpp)
#include <nlohmann/json.hpp>

#include "chroma_util.h"
#include "kb/parsers.h"
#include "request_auth.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

json collection_json(kb::Store& store, const kb::Collection& c) {
  json meta = c.metadata;
  json j = {{"name", c.name}, {"dimension", c.dimension}};
  // The Chroma API's collection id lives under a reserved metadata key (chroma_util.h).
  if (auto it = meta.find(chroma::kIdKey); it != meta.end()) {
    j["chroma_id"] = *it;
    meta.erase(it);
  }
  j["metadata"] = std::move(meta);
  if (auto n = store.count_chunks(c.name); n.is_ok()) j["chunks"] = *n;
  return j;
}

Result<kb::Format> parse_format(const json& d) {
  if (d.contains("format") && !d["format"].is_string()) return invalid_argument("'format' must be a string");
  auto f = kb::format_from_name(d.value("format", "text"));
  if (f.is_ok() && kb::format_is_binary(*f)) {
    return invalid_argument("send " + std::string(kb::format_name(*f)) +
                            " files as multipart/form-data uploads, not JSON text");
  }
  return f;
}

const char* outcome_name(kb::PutOutcome o) {
  switch (o) {
    case kb::PutOutcome::kInserted: return "inserted";
    case kb::PutOutcome::kReplaced: return "replaced";
    case kb::PutOutcome::kUnchanged: return "unchanged";
  }
  return "inserted";
}

void add_documents(App& app, const std::string& kb_name, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto coll = app.kb_store()->get_collection(kb_name);
  if (!coll.is_ok()) return resp.respond(error_response(coll.status()));
  auto docs = body->find("documents");
  if (docs == body->end() || !docs->is_array() || docs->empty()) {
    return resp.respond(error_response(invalid_argument("'documents' must be a non-empty array")));
  }
  if (docs->size() > 1000) return resp.respond(error_response(invalid_argument("at most 1000 documents per request")));
  const bool async = req.query.count("async") && req.query.at("async") != "false" && req.query.at("async") != "0";
  std::vector<kb::IngestRequest> queued;  // ?async=true: valid documents go to a job
  json results = json::array();
  size_t failed = 0;
  for (size_t i = 0; i < docs->size(); ++i) {
    const json& d = (*docs)[i];
    std::string where = "documents[" + std::to_string(i) + "]";
    json r = {{"index", i}};
    Status st;
    if (!d.is_object() || !d.contains("id") || !d["id"].is_string() || !d.contains("text") || !d["text"].is_string()) {
      st = invalid_argument(where + " needs string fields 'id' and 'text'");
    } else if (d.contains("metadata") && !d["metadata"].is_object()) {
      st = invalid_argument(where + ".metadata must be an object");
    }
    kb::IngestRequest ir;
    if (st.is_ok()) {
      auto fmt = parse_format(d);
      if (!fmt.is_ok()) st = fmt.status().with_context(where);
      else ir.format = *fmt;
    }
    if (st.is_ok()) {
      ir.collection = kb_name;
      ir.document_id = d["id"].get<std::string>();
      ir.content = d["text"].get<std::string>();
      ir.title = d.value("title", "");
      ir.source = d.value("source", "");
      if (d.contains("metadata")) ir.metadata = d["metadata"];
      r["id"] = ir.document_id;
      if (async) {
        queued.push_back(std::move(ir));
        continue;
      }
      auto put = app.kb_ingestor()->ingest(ir);
      if (put.is_ok()) {
        r["status"] = outcome_name(put->outcome);
        r["chunks"] = put->added_chunk_ids.size();
      } else {
        st = put.status();
      }
    }
    if (!st.is_ok()) {
      ++failed;
      r["status"] = "error";
      r["error"] = st.message();
    }
    results.push_back(std::move(r));
  }
  if (async) {
    if (queued.empty()) return resp.respond(json_response(400, {{"results", results}}));
    return respond_job_accepted(app, kb_name, std::move(queued), resp);
  }
  json out = {{"results", results}, {"embeddings", app.kb_embedder() != nullptr}};
  if (!app.kb_embedder()) out["note"] = "no embedding model configured: documents are searchable by full text only";
  resp.respond(json_response(failed == docs->size() ? 400 : 200, out));
}

void search(App& app, const std::string& kb_name, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  kb::SearchRequest sr;
  auto q = body->find("query");
  if (q == body->end() || !q->is_string() || q->get<std::string>().empty()) {
    return resp.respond(error_response(invalid_argument("'query' must be a non-empty string")));
  }
  sr.text = q->get<std::string>();
  auto k = get_int(*body, "top_k", 10, 1, 1000);
  if (!k.is_ok()) return resp.respond(error_response(k.status()));
  sr.k = static_cast<size_t>(*k);
  std::string mode = body->value("mode", "hybrid");
  if (mode == "hybrid") sr.mode = kb::SearchMode::kHybrid;
  else if (mode == "vector") sr.mode = kb::SearchMode::kVector;
  else if (mode == "bm25") sr.mode = kb::SearchMode::kBm25;
  else return resp.respond(error_response(invalid_argument("'mode' must be hybrid, vector or bm25")));
  if (sr.mode == kb::SearchMode::kVector && !app.kb_embedder()) {
    return resp.respond(error_response(failed_precondition("vector search needs an embedding model (serve --embed-model)")));
  }
  if (body->contains("where")) sr.where = (*body)["where"];
  if (body->contains("where_document")) sr.where_document = (*body)["where_document"];
  auto res = app.search_kb(kb_name, sr);
  if (!res.is_ok()) return resp.respond(error_response(res.status()));
  json hits = json::array();
  for (const auto& h : res->hits) {
    hits.push_back({{"document", h.document_id}, {"chunk", h.ordinal}, {"chunk_id", h.chunk_id},
                    {"text", h.text}, {"highlighted", h.highlighted}, {"heading", h.heading_path},
                    {"page", h.page}, {"score", h.score}, {"metadata", h.metadata}});
  }
  json out = {{"hits", hits}, {"mode", mode}, {"vector_used", res->vector_used}};
  if (!res->vector_used && sr.mode == kb::SearchMode::kHybrid) out["note"] = "full-text only: no embeddings available";
  resp.respond(json_response(200, out));
}

}  // namespace

void handle_kb(App& app, const http::Request& req, http::Responder& resp) {
  kb::Store* store = app.kb_store();
  if (!store) return resp.respond(error_response(failed_precondition("no knowledge base is configured (serve --data DIR)")));
  auto parts = split_path(req.path);  // "v1", "kb", ...
  const std::string& m = req.method;
  auto not_allowed = [&] {
    auto r = error_response(invalid_argument("method " + m + " not allowed on " + req.path));
    r.status = 405;
    resp.respond(r);
  };
  if (parts.size() == 2) {
    if (m == "GET") {
      auto list = app.readable_collections();  // only what the caller may read
      if (!list.is_ok()) return resp.respond(error_response(list.status()));
      json data = json::array();
      for (const auto& c : *list) data.push_back(collection_json(*store, c));
      return resp.respond(json_response(200, {{"data", data}}));
    }
    if (m == "POST") {
      auto body = parse_json_object(req);
      if (!body.is_ok()) return resp.respond(error_response(body.status()));
      auto name = body->find("name");
      if (name == body->end() || !name->is_string()) return resp.respond(error_response(invalid_argument("'name' must be a string")));
      json meta = body->value("metadata", json::object());
      if (!meta.is_object()) return resp.respond(error_response(invalid_argument("'metadata' must be an object")));
      meta.erase(chroma::kIdKey);  // reserved: assigned by the Chroma API
      uint32_t dim = app.kb_embedder() ? static_cast<uint32_t>(app.kb_embedder()->dimension()) : 0;
      auto c = store->create_collection(name->get<std::string>(), meta, dim);
      if (!c.is_ok()) return resp.respond(error_response(c.status()));
      app.kb_deleted(c->name);  // a new base starts without members
      return resp.respond(json_response(201, collection_json(*store, *c)));
    }
    return not_allowed();
  }
  const std::string& kb_name = parts[2];
  if (parts.size() == 3) {
    if (m == "GET") {
      auto c = store->get_collection(kb_name);
      if (!c.is_ok()) return resp.respond(error_response(c.status()));
      return resp.respond(json_response(200, collection_json(*store, *c)));
    }
    if (m == "DELETE") {
      Status s = store->delete_collection(kb_name);
      if (!s.is_ok()) return resp.respond(error_response(s));
      app.kb_deleted(kb_name);
      return resp.respond(json_response(200, {{"deleted", kb_name}}));
    }
    return not_allowed();
  }
  const std::string& sub = parts[3];
  if (sub == "documents" && parts.size() == 4) {
    if (m == "POST") {
      if (req.header("Content-Type").rfind("multipart/", 0) == 0) return handle_kb_upload(app, kb_name, req, resp);
      return add_documents(app, kb_name, req, resp);
    }
    if (m == "GET") {
      auto docs = store->list_documents(kb_name, 1000, 0);
      if (!docs.is_ok()) return resp.respond(error_response(docs.status()));
      json data = json::array();
      for (const auto& d : *docs) {
        data.push_back({{"id", d.id}, {"title", d.title}, {"source", d.source}, {"metadata", d.metadata},
                        {"content_hash", d.content_hash}});
      }
      return resp.respond(json_response(200, {{"data", data}}));
    }
    return not_allowed();
  }
  if (sub == "documents" && parts.size() >= 5) {
    // Everything after ".../documents/" is the id: vault note ids are paths
    // ("Projects/Plan.md") and `kb add` uses the file's path, which may start with '/'.
    std::string doc_id = parts[4];
    const std::string prefix = "/documents/";
    size_t at = req.path.find(prefix, req.path.find(kb_name));
    if (at != std::string::npos) doc_id = req.path.substr(at + prefix.size());
    if (m == "GET") return handle_kb_document_get(app, kb_name, doc_id, resp);
    if (m != "DELETE") return not_allowed();
    auto removed = store->delete_document(kb_name, doc_id);
    if (!removed.is_ok()) return resp.respond(error_response(removed.status()));
    return resp.respond(json_response(200, {{"deleted", doc_id}, {"chunks", removed->size()}}));
  }
  if (sub == "jobs") return handle_kb_jobs(app, kb_name, parts, req, resp);
  if (sub == "graph" && parts.size() == 4) return handle_kb_graph(app, kb_name, req, resp);
  if (sub == "vault" && parts.size() == 5) return handle_kb_vault(app, kb_name, parts[4], req, resp);
  if ((sub == "verify" || sub == "repair") && parts.size() == 4) {
    if (m != "POST") return not_allowed();
    return handle_kb_maintenance(app, kb_name, sub == "repair", resp);
  }
  if (sub == "ask" && parts.size() == 4) {
    if (m != "POST") return not_allowed();
    return handle_kb_ask(app, kb_name, req, resp);
  }
  if (sub == "search" && parts.size() == 4) {
    if (m != "POST") return not_allowed();
    return search(app, kb_name, req, resp);
  }
  resp.respond(error_response(not_found("no route for " + m + " " + req.path)));
}

}  // namespace dkb::server
