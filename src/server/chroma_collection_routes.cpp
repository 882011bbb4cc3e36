// Chroma-compatible HTTP API (v2, plus the v1 paths), system and collection routes:
//   GET  /api/v2/heartbeat | version | healthcheck | pre-flight-checks | auth/identity
//   GET  /api/v2/tenants/{t}, /api/v2/tenants/{t}/databases[/{d}]   (default ones only)
//   GET  /api/v2/tenants/{t}/databases/{d}/collections[?limit&offset]  list
//   POST /api/v2/tenants/{t}/databases/{d}/collections   {name, metadata?, configuration?,
//   get_or_create?} GET  /api/v2/tenants/{t}/databases/{d}/collections_count GET|PUT|DELETE
//   /api/v2/tenants/{t}/databases/{d}/collections/{name or id}  (PUT: {new_name?, new_metadata?})
//   GET  /api/v2/tenants/{t}/databases/{d}/collections/by-id/{id}
//   .../collections/{id}/{add|upsert|update|delete|get|query} (POST), .../count (GET): record
//   routes
// v1: /api/v1/{heartbeat,version,pre-flight-checks,collections...,count_collections} act on the
// default tenant and database. Authentication and readiness are checked by App::handle.
#include <chrono>

#include "chroma_util.h"
#include "kb/filter.h"
#include "request_auth.h"
#include "routes.h"

namespace dkb::server {
namespace {

using chroma::error;

Status validate_chroma_name(const std::string& name) {
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  bool ok = name.size() >= 3 && name.size() <= 128 && alnum(name.front()) && alnum(name.back()) &&
            name.find("..") == std::string::npos;
  for (char c : name) ok = ok && (alnum(c) || c == '.' || c == '_' || c == '-');
  if (ok) return Status::ok();
  return invalid_argument(
      "Expected a name containing 3-128 characters from [a-zA-Z0-9._-], starting and ending with "
      "[a-zA-Z0-9], without '..'; got '" +
      name + "'");
}

// The space a create request asks for: metadata "hnsw:space", else configuration.hnsw/spann.space.
Result<std::string> requested_space(const json& metadata, const json& configuration) {
  std::string space;
  if (metadata.contains("hnsw:space")) {
    if (!metadata["hnsw:space"].is_string())
      return invalid_argument("'hnsw:space' must be a string");
    space = metadata["hnsw:space"].get<std::string>();
  } else if (configuration.is_object()) {
    for (const char* k : {"hnsw", "spann"}) {
      auto it = configuration.find(k);
      if (it != configuration.end() && it->is_object() && it->contains("space") &&
          (*it)["space"].is_string()) {
        space = (*it)["space"].get<std::string>();
      }
    }
  }
  if (!space.empty() && space != "l2" && space != "cosine" && space != "ip") {
    return invalid_argument("unknown space '" + space + "' (l2, cosine, ip)");
  }
  return space;
}

void create_collection(App& app, const http::Request& req, http::Responder& resp) {
  kb::Store& store = *app.kb_store();
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error(body.status()));
  auto name_it = body->find("name");
  if (name_it == body->end() || !name_it->is_string())
    return resp.respond(error(invalid_argument("'name' must be a string")));
  std::string name = name_it->get<std::string>();
  if (Status s = validate_chroma_name(name); !s.is_ok()) return resp.respond(error(s));
  json metadata = body->value("metadata", json(nullptr));
  if (metadata.is_null()) metadata = json::object();
  if (!metadata.is_object())
    return resp.respond(error(invalid_argument("'metadata' must be an object")));
  metadata.erase(chroma::kIdKey);
  if (Status s = kb::validate_metadata(metadata); !s.is_ok()) return resp.respond(error(s));
  auto space = requested_space(metadata, body->value("configuration", json(nullptr)));
  if (!space.is_ok()) return resp.respond(error(space.status()));
  if (!space->empty()) metadata["hnsw:space"] = *space;
  auto get_or_create = body->value("get_or_create", json(false));
  if (!get_or_create.is_boolean())
    return resp.respond(error(invalid_argument("'get_or_create' must be a boolean")));
  // get_or_create of an existing collection only reads it; anything else creates one.
  const bool just_get = get_or_create.get<bool>() && store.get_collection(name).is_ok();
  if (Status s = authorize(just_get ? auth::Permission::kKbRead : auth::Permission::kKbCreate,
                           auth::Resource::kb(name));
      !s.is_ok()) {
    return resp.respond(error(s));
  }

  metadata[chroma::kIdKey] = chroma::new_uuid();
  auto created = store.create_collection(name, metadata, 0);
  if (created.is_ok()) {
    app.kb_deleted(name);  // a new collection starts without members
    return resp.respond(chroma::ok(chroma::collection_json(*created)));
  }
  if (created.status().code() != ErrorCode::kAlreadyExists)
    return resp.respond(error(created.status()));
  if (!get_or_create.get<bool>()) {
    return resp.respond(error(already_exists("Collection [" + name + "] already exists")));
  }
  auto existing = chroma::find_collection(store, name);
  if (!existing.is_ok()) return resp.respond(error(existing.status()));
  resp.respond(chroma::ok(chroma::collection_json(*existing)));
}

void modify_collection(App& app, kb::Collection coll, const http::Request& req,
                       http::Responder& resp) {
  kb::Store& store = *app.kb_store();
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error(body.status()));
  json new_name = body->value("new_name", json(nullptr));
  json new_meta = body->value("new_metadata", json(nullptr));
  if (!new_name.is_null() && !new_name.is_string())
    return resp.respond(error(invalid_argument("'new_name' must be a string")));
  if (!new_meta.is_null() && !new_meta.is_object())
    return resp.respond(error(invalid_argument("'new_metadata' must be an object")));
  json meta = coll.metadata;
  if (new_meta.is_object()) {
    json keep_space = coll.metadata.value("hnsw:space", json(nullptr));
    if (new_meta.contains("hnsw:space") && new_meta["hnsw:space"] != keep_space) {
      return resp.respond(error(invalid_argument(
          "changing the distance function (hnsw:space) of a collection is not supported")));
    }
    meta = new_meta;
    meta.erase(chroma::kIdKey);
    if (Status s = kb::validate_metadata(meta); !s.is_ok()) return resp.respond(error(s));
    meta[chroma::kIdKey] = coll.metadata[chroma::kIdKey];
    if (!keep_space.is_null()) meta["hnsw:space"] = keep_space;
  }
  std::string name = coll.name;
  if (new_name.is_string() && new_name.get<std::string>() != name) {
    if (Status s = validate_chroma_name(new_name.get<std::string>()); !s.is_ok())
      return resp.respond(error(s));
    if (Status s = store.rename_collection(name, new_name.get<std::string>()); !s.is_ok()) {
      return resp.respond(error(s));
    }
    app.kb_renamed(name, new_name.get<std::string>());
    name = new_name.get<std::string>();
  }
  if (new_meta.is_object()) {
    if (Status s = store.update_collection_metadata(name, meta); !s.is_ok())
      return resp.respond(error(s));
  }
  resp.respond(chroma::ok(json::object()));
}

void list_collections(App& app, const http::Request& req, http::Responder& resp) {
  kb::Store& store = *app.kb_store();
  size_t limit = SIZE_MAX, offset = 0;
  try {
    if (auto it = req.query.find("limit"); it != req.query.end() && !it->second.empty())
      limit = std::stoul(it->second);
    if (auto it = req.query.find("offset"); it != req.query.end() && !it->second.empty())
      offset = std::stoul(it->second);
  } catch (const std::exception&) {
    return resp.respond(
        error(invalid_argument("'limit' and 'offset' must be non-negative integers")));
  }
  auto all = app.readable_collections();  // only what the caller may read
  if (!all.is_ok()) return resp.respond(error(all.status()));
  json out = json::array();
  for (size_t i = offset; i < all->size() && out.size() < limit; ++i) {
    kb::Collection& c = (*all)[i];
    if (auto id = chroma::ensure_uuid(store, c); !id.is_ok())
      return resp.respond(error(id.status()));
    out.push_back(chroma::collection_json(c));
  }
  resp.respond(chroma::ok(out));
}

// What an operation on one collection needs: `rest` = {"collections", name-or-id[, op]}.
auth::Permission collection_permission(const std::string& method, const std::vector<std::string>& rest) {
  using P = auth::Permission;
  const bool by_id = rest.size() == 3 && rest[1] == "by-id";
  if (rest.size() == 2 || by_id) {
    if (method == "PUT") return P::kKbManage;
    if (method == "DELETE") return P::kKbDelete;
    return P::kKbRead;
  }
  const std::string& op = rest.size() == 3 ? rest[2] : "";
  if (op == "add" || op == "upsert" || op == "update") return P::kKbWrite;
  if (op == "delete") return P::kKbDelete;
  return P::kKbRead;
}

// Routes below /tenants/{t}/databases/{d}/: `rest` starts at "collections" or "collections_count".
void collections(App& app, const std::vector<std::string>& rest, const http::Request& req,
                 http::Responder& resp) {
  kb::Store& store = *app.kb_store();
  const std::string& m = req.method;
  auto not_allowed = [&] {
    auto r = error(invalid_argument("method " + m + " not allowed on " + req.path));
    r.status = 405;
    resp.respond(r);
  };
  if (rest[0] == "collections_count" && rest.size() == 1) {
    if (m != "GET") return not_allowed();
    auto all = app.readable_collections();
    if (!all.is_ok()) return resp.respond(error(all.status()));
    return resp.respond(chroma::ok(all->size()));
  }
  if (rest[0] != "collections")
    return resp.respond(error(not_found("no route for " + m + " " + req.path)));
  if (rest.size() == 1) {
    if (m == "GET") return list_collections(app, req, resp);
    if (m == "POST") return create_collection(app, req, resp);
    return not_allowed();
  }
  bool by_id = rest.size() == 3 && rest[1] == "by-id" && chroma::looks_like_uuid(rest[2]);
  auto coll = chroma::find_collection(store, by_id ? rest[2] : rest[1]);
  if (!coll.is_ok()) return resp.respond(error(coll.status()));
  if (Status s = authorize(collection_permission(m, rest), auth::Resource::kb(coll->name)); !s.is_ok()) {
    return resp.respond(error(s));
  }
  if (rest.size() == 2 || by_id) {
    if (m == "GET") return resp.respond(chroma::ok(chroma::collection_json(*coll)));
    if (by_id) return not_allowed();
    if (m == "PUT") return modify_collection(app, *coll, req, resp);
    if (m == "DELETE") {
      if (Status s = store.delete_collection(coll->name); !s.is_ok()) return resp.respond(error(s));
      app.kb_deleted(coll->name);
      return resp.respond(chroma::ok(json::object()));
    }
    return not_allowed();
  }
  if (rest.size() != 3) return resp.respond(error(not_found("no route for " + m + " " + req.path)));
  const std::string& op = rest[2];
  if (op == "count")
    return m == "GET" ? handle_chroma_read(app, *coll, op, req, resp) : not_allowed();
  if (op == "get" || op == "query")
    return m == "POST" ? handle_chroma_read(app, *coll, op, req, resp) : not_allowed();
  if (op == "add" || op == "upsert" || op == "update" || op == "delete") {
    return m == "POST" ? handle_chroma_write(app, *coll, op, req, resp) : not_allowed();
  }
  if (op == "search" || op == "indexing_status" || op == "fork" || op == "fork_count") {
    return resp.respond(
        error({ErrorCode::kUnimplemented, "'" + op + "' is not supported by deepkb"}));
  }
  resp.respond(error(not_found("no route for " + m + " " + req.path)));
}

json database_json(const std::string& name) {
  return {
      {"id", "00000000-0000-0000-0000-000000000000"}, {"name", name}, {"tenant", chroma::kTenant}};
}

}  // namespace

bool chroma_public_path(const std::string& path) {
  auto p = split_path(path);
  if (p.size() == 2) return true;  // /api/v2: the root answers a heartbeat
  return p.size() == 3 && (p[2] == "heartbeat" || p[2] == "version" || p[2] == "healthcheck" ||
                           p[2] == "pre-flight-checks");
}

void handle_chroma(App& app, const http::Request& req, http::Responder& resp) {
  auto p = split_path(req.path);  // "api", "v1"|"v2", ...
  const std::string& m = req.method;
  if (p.size() == 2 || (p.size() == 3 && p[2] == "heartbeat")) {
    int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    return resp.respond(chroma::ok({{"nanosecond heartbeat", ns}}));
  }
  if (p.size() == 3 && p[2] == "version") return resp.respond(chroma::ok(chroma::kVersion));
  if (p.size() == 3 && p[2] == "healthcheck")
    return resp.respond(chroma::ok({{"is_executor_ready", true}, {"is_log_client_ready", true}}));
  if (p.size() == 3 && p[2] == "pre-flight-checks") {
    return resp.respond(
        chroma::ok({{"max_batch_size", chroma::kMaxBatch}, {"supports_base64_encoding", false}}));
  }
  if (!app.kb_store())
    return resp.respond(
        error(failed_precondition("no knowledge base is configured (serve --data DIR)")));
  if (p.size() == 4 && p[2] == "auth" && p[3] == "identity") {
    return resp.respond(chroma::ok(
        {{"user_id", current_request_auth() ? current_request_auth()->principal.audit_name() : ""},
         {"tenant", chroma::kTenant},
         {"databases", {chroma::kDatabase}}}));
  }
  if (p.size() == 3 && p[2] == "reset") {
    return resp.respond(error({ErrorCode::kPermissionDenied, "reset is disabled on deepkb"}));
  }
  std::vector<std::string> rest;
  if (p[1] == "v1" && (p[2] == "collections" || p[2] == "count_collections")) {
    rest.assign(p.begin() + 2, p.end());
    if (rest[0] == "count_collections") rest[0] = "collections_count";
    return collections(app, rest, req, resp);
  }
  // tenants/{t}[/databases[/{d}[/...]]]
  if (p[2] != "tenants")
    return resp.respond(error(not_found("no route for " + m + " " + req.path)));
  if (p.size() == 3) {
    return resp.respond(error({ErrorCode::kUnimplemented, "deepkb serves only the tenant '" +
                                                              std::string(chroma::kTenant) + "'"}));
  }
  if (p[3] != chroma::kTenant)
    return resp.respond(error(not_found("Tenant [" + p[3] + "] not found")));
  if (p.size() == 4) return resp.respond(chroma::ok({{"name", chroma::kTenant}}));
  if (p[4] != "databases")
    return resp.respond(error(not_found("no route for " + m + " " + req.path)));
  if (p.size() == 5) {
    if (m == "GET")
      return resp.respond(chroma::ok(json::array({database_json(chroma::kDatabase)})));
    return resp.respond(
        error({ErrorCode::kUnimplemented,
               "deepkb serves only the database '" + std::string(chroma::kDatabase) + "'"}));
  }
  if (p[5] != chroma::kDatabase)
    return resp.respond(error(not_found("Database [" + p[5] + "] not found")));
  if (p.size() == 6) return resp.respond(chroma::ok(database_json(chroma::kDatabase)));
  rest.assign(p.begin() + 6, p.end());
  collections(app, rest, req, resp);
}

}  // namespace dkb::server
