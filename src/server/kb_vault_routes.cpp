// Vault import, link graph and single documents (native API, issue #6):
//   POST /v1/kb/{kb}/vault/sync   {notes: [{path, hash}], delete_missing?: true}
//        → {upload: [paths to send], unchanged: n, deleted: [paths removed]}
//   POST /v1/kb/{kb}/vault/notes  {notes: [{path, text}]} (≤ 1000)
//        → {results: [{path, status, chunks, links, error?}]}
//   GET  /v1/kb/{kb}/graph        {nodes: [{id, title, tags, unresolved}],
//                                  edges: [{source, target, resolved, embed, heading, alias}]}
//   GET  /v1/kb/{kb}/documents/{id}  the document with its chunk count, links and backlinks
// The vault folder is read by the client (deepkb kb import-vault), never by the server: the
// server may run as another user, so no endpoint takes a file-system path (kb/vault_sync.h).
#include <nlohmann/json.hpp>

#include "kb/link_graph.h"
#include "kb/vault_sync.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

json edge_json(const kb::GraphEdge& e) {
  return {{"source", e.source},       {"target", e.target},          {"resolved", e.resolved},
          {"embed", e.link.embed},    {"heading", e.link.heading},   {"alias", e.link.alias},
          {"written", e.link.target}};
}

void vault_sync(App& app, const std::string& kb_name, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto notes = body->find("notes");
  if (notes == body->end() || !notes->is_array()) {
    return resp.respond(error_response(invalid_argument("'notes' must be an array of {path, hash}")));
  }
  if (notes->size() > 200000) return resp.respond(error_response(invalid_argument("at most 200000 notes")));
  auto del = get_bool(*body, "delete_missing", true);
  if (!del.is_ok()) return resp.respond(error_response(del.status()));
  std::vector<kb::VaultManifestEntry> manifest;
  for (size_t i = 0; i < notes->size(); ++i) {
    const json& n = (*notes)[i];
    if (!n.is_object() || !n.contains("path") || !n["path"].is_string() || !n.contains("hash") ||
        !n["hash"].is_string()) {
      return resp.respond(error_response(
          invalid_argument("notes[" + std::to_string(i) + "] needs string fields 'path' and 'hash'")));
    }
    manifest.push_back({n["path"].get<std::string>(), n["hash"].get<std::string>()});
  }
  auto plan = kb::sync_vault_manifest(*app.kb_store(), kb_name, manifest, *del);
  if (!plan.is_ok()) return resp.respond(error_response(plan.status()));
  resp.respond(json_response(200, {{"upload", plan->upload}, {"unchanged", plan->unchanged},
                                   {"deleted", plan->deleted}}));
}

void vault_notes(App& app, const std::string& kb_name, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto coll = app.kb_store()->get_collection(kb_name);
  if (!coll.is_ok()) return resp.respond(error_response(coll.status()));
  auto notes = body->find("notes");
  if (notes == body->end() || !notes->is_array() || notes->empty()) {
    return resp.respond(error_response(invalid_argument("'notes' must be a non-empty array of {path, text}")));
  }
  if (notes->size() > 1000) return resp.respond(error_response(invalid_argument("at most 1000 notes per request")));
  json results = json::array();
  size_t failed = 0;
  for (size_t i = 0; i < notes->size(); ++i) {
    const json& n = (*notes)[i];
    json r = {{"index", i}};
    Status st;
    if (!n.is_object() || !n.contains("path") || !n["path"].is_string() || !n.contains("text") ||
        !n["text"].is_string()) {
      st = invalid_argument("notes[" + std::to_string(i) + "] needs string fields 'path' and 'text'");
    } else {
      r["path"] = n["path"];
      size_t n_links = 0;
      auto put = kb::ingest_vault_note(*app.kb_ingestor(), kb_name, n["path"].get<std::string>(),
                                       n["text"].get<std::string>(), &n_links);
      if (put.is_ok()) {
        r["status"] = put->outcome == kb::PutOutcome::kInserted   ? "inserted"
                      : put->outcome == kb::PutOutcome::kReplaced ? "replaced"
                                                                  : "unchanged";
        r["chunks"] = put->added_chunk_ids.size();
        r["links"] = n_links;
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
  resp.respond(json_response(failed == notes->size() ? 400 : 200, {{"results", results}}));
}

void graph(App& app, const std::string& kb_name, http::Responder& resp) {
  auto g = kb::build_link_graph(*app.kb_store(), kb_name);
  if (!g.is_ok()) return resp.respond(error_response(g.status()));
  json nodes = json::array(), edges = json::array();
  for (const auto& n : g->nodes) {
    nodes.push_back({{"id", n.id}, {"title", n.title}, {"tags", n.tags}, {"unresolved", n.unresolved}});
  }
  for (const auto& e : g->edges) edges.push_back(edge_json(e));
  resp.respond(json_response(200, {{"nodes", nodes}, {"edges", edges}}));
}

}  // namespace

void handle_kb_vault(App& app, const std::string& kb_name, const std::string& op,
                     const http::Request& req, http::Responder& resp) {
  if (req.method != "POST") {
    auto r = error_response(invalid_argument("method " + req.method + " not allowed on " + req.path));
    r.status = 405;
    return resp.respond(r);
  }
  if (op == "sync") return vault_sync(app, kb_name, req, resp);
  if (op == "notes") return vault_notes(app, kb_name, req, resp);
  resp.respond(error_response(not_found("no route for POST " + req.path)));
}

void handle_kb_graph(App& app, const std::string& kb_name, const http::Request& req,
                     http::Responder& resp) {
  if (req.method != "GET") {
    auto r = error_response(invalid_argument("method " + req.method + " not allowed on " + req.path));
    r.status = 405;
    return resp.respond(r);
  }
  graph(app, kb_name, resp);
}

void handle_kb_document_get(App& app, const std::string& kb_name, const std::string& doc_id,
                            http::Responder& resp) {
  auto d = app.kb_store()->get_document(kb_name, doc_id);
  if (!d.is_ok()) return resp.respond(error_response(d.status()));
  auto chunks = app.kb_store()->get_chunks(kb_name, doc_id);
  if (!chunks.is_ok()) return resp.respond(error_response(chunks.status()));
  auto g = kb::build_link_graph(*app.kb_store(), kb_name);
  if (!g.is_ok()) return resp.respond(error_response(g.status()));
  json links = json::array(), backlinks = json::array();
  for (const auto& e : g->edges) {
    if (e.source == doc_id) links.push_back(edge_json(e));
  }
  for (const auto& e : kb::backlinks_of(*g, doc_id)) backlinks.push_back(edge_json(e));
  json pages = json::array();
  for (const auto& c : *chunks) {
    if (c.page > 0 && (pages.empty() || pages.back() != c.page)) pages.push_back(c.page);
  }
  resp.respond(json_response(200, {{"id", d->id},
                                   {"title", d->title},
                                   {"source", d->source},
                                   {"metadata", d->metadata},
                                   {"content_hash", d->content_hash},
                                   {"chunks", chunks->size()},
                                   {"pages", pages},
                                   {"links", links},
                                   {"backlinks", backlinks}}));
}

}  // namespace dkb::server
