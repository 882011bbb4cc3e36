// requirement_for (request_auth.h): what a request needs before its handler runs.
//   /metrics → metrics; model lists → any signed-in caller; generation and tokenizer routes →
//   model.chat on the model; embeddings → model.embeddings; chat completions with a
//   knowledge_base → also kb.read on it.
//   /v1/kb: GET list → signed in (the list is filtered); POST /v1/kb → kb.create on the new
//   name; under /v1/kb/{kb}: GET and POST search|ask → kb.read (ask also model.chat), other
//   POST verify → kb.read, POST repair → kb.manage, other POST/PUT/PATCH → kb.write,
//   DELETE → kb.delete. New /v1/kb routes get these defaults.
//   Chroma and admin routes: signed in here; their handlers check per collection / per action.
#include <nlohmann/json.hpp>

#include "request_auth.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {

namespace {

using auth::Permission;
using auth::Resource;

// The model a request names, as the handlers resolve it (aliases, Ollama tags, defaults).
Resource model_resource(App& app, const json& body, bool embedding) {
  std::string name;
  if (auto it = body.find("model"); it != body.end() && it->is_string()) name = *it;
  ModelEntry* m = app.find_model(name, embedding);
  if (!m && name.find(':') != std::string::npos) m = app.find_model(name.substr(0, name.find(':')), embedding);
  if (!m && embedding) m = app.find_model("", true);
  return Resource::model(m ? m->name : name);
}

Requirement need(Permission p, Resource r) {
  Requirement q;
  q.permission = p;
  q.resource = std::move(r);
  return q;
}

// The request body as a JSON object (empty when absent or malformed: the handler reports it).
// Parsed only for the routes whose requirement names something in the body.
json body_of(const http::Request& req) {
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  return body.is_object() ? body : json::object();
}

Requirement kb_requirement(App& app, const http::Request& req) {
  auto parts = split_path(req.path);  // "v1", "kb", ...
  const std::string& m = req.method;
  if (parts.size() == 2) {
    if (m == "POST") {
      std::string name;
      json body = body_of(req);
      if (auto it = body.find("name"); it != body.end() && it->is_string()) name = *it;
      return need(Permission::kKbCreate, Resource::kb(name));
    }
    return need(Permission::kAuthenticated, Resource::global());
  }
  Resource kb = Resource::kb(parts[2]);
  // verify only reports (read); repair rebuilds indexes and deletes orphans (the KB's admin).
  if (m == "POST" && parts.size() == 4 && parts[3] == "verify") return need(Permission::kKbRead, kb);
  if (m == "POST" && parts.size() == 4 && parts[3] == "repair") return need(Permission::kKbManage, kb);
  const bool read_post = parts.size() == 4 && (parts[3] == "search" || parts[3] == "ask");
  if (m == "GET" || m == "HEAD" || (m == "POST" && read_post)) {
    Requirement q = need(Permission::kKbRead, kb);
    if (m == "POST" && parts[3] == "ask") {
      q.has_second = true;
      q.second_permission = Permission::kModelChat;
      q.second_resource = model_resource(app, body_of(req), false);
    }
    return q;
  }
  if (m == "DELETE") return need(Permission::kKbDelete, kb);
  return need(Permission::kKbWrite, kb);
}

}  // namespace

Requirement requirement_for(App& app, const http::Request& req) {
  const std::string& p = req.path;
  if (p == "/v1/kb" || p.rfind("/v1/kb/", 0) == 0) return kb_requirement(app, req);
  if (p == "/metrics") return need(Permission::kMetrics, Resource::global());
  if (p == "/v1/embeddings" || p == "/embeddings" || p == "/api/embed" || p == "/api/embeddings") {
    return need(Permission::kModelEmbed, model_resource(app, body_of(req), true));
  }
  static const char* kChat[] = {"/v1/chat/completions", "/chat/completions", "/v1/completions",
                                "/completions", "/v1/chat", "/api/chat", "/api/generate",
                                "/tokenize", "/detokenize", "/apply-template"};
  for (const char* c : kChat) {
    if (p != c) continue;
    const json body = body_of(req);
    Requirement q = need(Permission::kModelChat, model_resource(app, body, false));
    auto kbf = body.find("knowledge_base");
    if (kbf != body.end() && kbf->is_object() && kbf->contains("name") && (*kbf)["name"].is_string()) {
      q.has_second = true;
      q.second_permission = Permission::kKbRead;
      q.second_resource = Resource::kb((*kbf)["name"].get<std::string>());
    }
    return q;
  }
  return need(Permission::kAuthenticated, Resource::global());
}

}  // namespace dkb::server
