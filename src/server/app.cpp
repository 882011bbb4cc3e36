#include "server/app.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "base/log.h"

#include "chroma_util.h"
#include "request_auth.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {

App::App(AppOptions opt) : opt_(std::move(opt)), response_cache_(opt_.response_cache_bytes) {}
App::~App() = default;

Status App::set_knowledge_base(std::unique_ptr<kb::Store> store,
                               std::unique_ptr<kb::Embedder> embedder, const std::string& data_dir) {
  kb_store_ = std::move(store);
  kb_embedder_ = std::move(embedder);
  kb::IndexManagerOptions io;
  io.dir = data_dir;
  kb_indexes_ = std::make_unique<kb::IndexManager>(*kb_store_, io);
  kb_searcher_ = std::make_unique<kb::Searcher>(*kb_store_, kb_embedder_.get(), kb::Metric::kCosine,
                                                kb_indexes_.get());
  kb_chroma_searcher_ = std::make_unique<kb::Searcher>(*kb_store_, kb_embedder_.get(),
                                                       kb::Metric::kL2, kb_indexes_.get());
  kb_ingestor_ = std::make_unique<kb::Ingestor>(*kb_store_, kb_embedder_.get());
  if (kb_embedder_) reranker_ = std::make_unique<rag::EmbeddingReranker>(*kb_embedder_);
  kb_jobs_ = std::make_unique<kb::IngestJobs>(*kb_ingestor_);
  if (data_dir.empty()) return Status::ok();
  DKB_ASSIGN_OR_RETURN(auto journal, kb::JobJournal::open(data_dir + "/jobs.db"));
  return kb_jobs_->attach_journal(std::move(journal));
}

void App::add_model(ModelEntry entry) {
  if (entry.created == 0) {
    entry.created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  }
  models_.push_back(std::make_unique<ModelEntry>(std::move(entry)));
}

ModelEntry* App::find_model(const std::string& name, bool embedding) {
  for (auto& m : models_) {
    if (m->embedding != embedding) continue;
    if (name.empty() || m->name == name) return m.get();
    for (const auto& a : m->aliases) {
      if (a == name) return m.get();
    }
  }
  return nullptr;
}

void App::shutdown(int64_t grace_ms) {
  if (kb_jobs_) kb_jobs_->shutdown();  // before the schedulers its embedder may use
  for (auto& m : models_) m->scheduler->shutdown(grace_ms);
}

namespace {

// Counts the request in /metrics (route label × status) as its answer starts — before the
// client can see it, so a client reading /metrics next always finds it counted.
class CountingResponder : public http::Responder {
 public:
  CountingResponder(http::Responder& inner, Metrics& metrics)
      : inner_(inner), metrics_(metrics) {}
  void set_label(std::string label) { label_ = std::move(label); }
  void respond(http::Response r) override {
    count(r.status);
    inner_.respond(std::move(r));
  }
  http::Stream& stream(int status, const std::string& ct,
                       const std::vector<std::pair<std::string, std::string>>& h) override {
    count(status);
    return inner_.stream(status, ct, h);
  }
  bool client_gone() override { return inner_.client_gone(); }
  // A handler that answered nothing gets a 500 from the transport; count it as such.
  void finish() {
    if (!counted_) count(500);
  }
  int status() const { return status_; }

 private:
  void count(int status) {
    if (counted_) return;
    counted_ = true;
    status_ = status;
    metrics_.request(label_, status);
  }
  http::Responder& inner_;
  Metrics& metrics_;
  std::string label_ = "other";
  bool counted_ = false;
  int status_ = 500;
};

// Stores a successful JSON response in the cache before it is sent, so a client that
// repeats the request right after reading the answer already finds it cached.
class CachingResponder : public http::Responder {
 public:
  CachingResponder(http::Responder& inner, ResponseCache& cache, std::string key)
      : inner_(inner), cache_(cache), key_(std::move(key)) {}
  void respond(http::Response r) override {
    if (r.status == 200 && r.content_type == "application/json") cache_.put(key_, r.body);
    inner_.respond(std::move(r));
  }
  http::Stream& stream(int status, const std::string& ct,
                       const std::vector<std::pair<std::string, std::string>>& h) override {
    return inner_.stream(status, ct, h);
  }
  bool client_gone() override { return inner_.client_gone(); }

 private:
  http::Responder& inner_;
  ResponseCache& cache_;
  std::string key_;
};

// The cache key for a deterministic, non-streamed generation request; nullopt otherwise.
std::optional<std::string> cache_key(const http::Request& req) {
  static const char* kCacheable[] = {"/v1/chat/completions", "/chat/completions", "/v1/completions",
                                     "/completions", "/v1/chat", "/api/generate", "/api/chat"};
  bool route_ok = false;
  for (const char* p : kCacheable) route_ok |= req.path == p;
  if (!route_ok || req.method != "POST") return std::nullopt;
  json body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || body.contains("knowledge_base")) return std::nullopt;
  const bool ollama = req.path.rfind("/api/", 0) == 0;
  auto stream = body.find("stream");
  bool streaming = stream == body.end() ? ollama : !stream->is_boolean() || stream->get<bool>();
  if (streaming) return std::nullopt;
  const json& opts = ollama && body.contains("options") && body["options"].is_object() ? body["options"] : body;
  auto temp = opts.find("temperature");
  bool greedy = temp != opts.end() && temp->is_number() && temp->get<double>() == 0.0;
  auto seed = opts.find("seed");
  bool seeded = seed != opts.end() && seed->is_number_integer() && seed->get<int64_t>() >= 0;
  if (!greedy && !seeded) return std::nullopt;
  return req.path + "\n" + body.dump();  // nlohmann objects are key-sorted: canonical
}

struct Route {
  const char* method;
  const char* path;
  bool needs_auth;
  void (*fn)(App&, const http::Request&, http::Responder&);
};

void handle_health(App&, const http::Request&, http::Responder& resp) {
  resp.respond(json_response(200, {{"status", "ok"}}));
}

void handle_ready(App& app, const http::Request&, http::Responder& resp) {
  if (app.ready()) {
    resp.respond(json_response(200, {{"status", "ready"}}));
  } else {
    auto r = json_response(503, {{"status", "loading"}});
    r.headers.push_back({"Retry-After", "1"});
    resp.respond(r);
  }
}

void handle_metrics(App& app, const http::Request&, http::Responder& resp) {
  std::map<std::string, double> g;
  for (const auto& m : app.models()) {
    auto s = m->scheduler->stats();
    std::string l = "{model=\"" + m->name + "\"}";
    g["deepkb_queue_depth" + l] = static_cast<double>(s.queued);
    g["deepkb_running_sequences" + l] = static_cast<double>(s.running);
    g["deepkb_kv_cache_used_positions" + l] = static_cast<double>(s.kv_used);
    g["deepkb_kv_cache_capacity_positions" + l] = static_cast<double>(s.kv_capacity);
    g["deepkb_kv_cache_usage_ratio" + l] =
        s.kv_capacity ? static_cast<double>(s.kv_used) / s.kv_capacity : 0.0;
    g["deepkb_kv_cache_pages_used" + l] = static_cast<double>(s.kv_pages_used);
    g["deepkb_kv_cache_pages_cached" + l] = static_cast<double>(s.kv_pages_cached);
    g["deepkb_kv_cache_pages_capacity" + l] = static_cast<double>(s.kv_pages_total);
    g["deepkb_kv_cache_evictions_total" + l] = static_cast<double>(s.kv_evictions);
    g["deepkb_prefix_cache_hits_total" + l] = static_cast<double>(s.prefix_cache_hits);
    g["deepkb_prefix_cache_misses_total" + l] = static_cast<double>(s.prefix_cache_misses);
    g["deepkb_preemptions_total" + l] = static_cast<double>(s.preemptions);
  }
  g["deepkb_ready"] = app.ready() ? 1 : 0;
  g["deepkb_response_cache_hits"] = static_cast<double>(app.response_cache().hits());
  g["deepkb_response_cache_misses"] = static_cast<double>(app.response_cache().misses());
  g["deepkb_response_cache_bytes"] = static_cast<double>(app.response_cache().bytes());
  resp.respond({200, "text/plain; version=0.0.4", app.metrics().render(g), {}});
}

const Route kRoutes[] = {
    {"GET", "/health", false, handle_health},
    {"GET", "/ready", false, handle_ready},
    {"GET", "/metrics", true, handle_metrics},
    {"GET", "/v1/models", true, handle_models},
    {"GET", "/models", true, handle_models},
    {"POST", "/v1/chat/completions", true, handle_chat_completions},
    {"POST", "/chat/completions", true, handle_chat_completions},
    {"POST", "/v1/completions", true, handle_completions},
    {"POST", "/completions", true, handle_completions},
    {"POST", "/v1/embeddings", true, handle_embeddings},
    {"POST", "/embeddings", true, handle_embeddings},
    {"POST", "/v1/chat", true, handle_simple_chat},
    {"POST", "/api/chat", true, handle_ollama_chat},
    {"POST", "/api/generate", true, handle_ollama_generate},
    {"POST", "/api/embed", true, handle_ollama_embed},
    {"GET", "/api/tags", true, handle_ollama_tags},
    {"POST", "/api/show", true, handle_ollama_show},
    {"GET", "/api/ps", true, handle_ollama_ps},
    {"GET", "/api/version", false, handle_ollama_version},
    {"GET", "/v1/ws", true, handle_ws_without_upgrade},
    {"POST", "/tokenize", true, handle_tokenize},
    {"POST", "/detokenize", true, handle_detokenize},
    {"POST", "/apply-template", true, handle_apply_template},
};

}  // namespace

namespace {

enum class Family { kOpenAI, kOllama, kChroma };

Family family_of(const std::string& path) {
  if (path == "/api/v1" || path == "/api/v2" || path.rfind("/api/v1/", 0) == 0 ||
      path.rfind("/api/v2/", 0) == 0) {
    return Family::kChroma;
  }
  return path.rfind("/api/", 0) == 0 ? Family::kOllama : Family::kOpenAI;
}

http::Response styled_error(const Status& s, Family f) {
  if (f == Family::kChroma) return chroma::error(s);
  return error_response(s, f == Family::kOllama ? ErrorStyle::kOllama : ErrorStyle::kOpenAI);
}

// 429 in the API family's error shape, with Retry-After in whole seconds (at least 1).
http::Response rate_limited(double retry_after_s, Family f) {
  const int64_t secs = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(retry_after_s)));
  const std::string msg = "rate limit exceeded; retry in " + std::to_string(secs) + " s";
  http::Response r;
  if (f == Family::kOpenAI) {
    r = json_response(429, {{"error", {{"message", msg}, {"type", "rate_limit_error"}, {"param", nullptr},
                                       {"code", "rate_limit_exceeded"}}}});
  } else {
    r = styled_error(resource_exhausted(msg), f);
    r.status = 429;
    std::erase_if(r.headers, [](const auto& h) { return h.first == "Retry-After"; });
  }
  r.headers.push_back({"Retry-After", std::to_string(secs)});
  return r;
}

std::string outcome_of(int status) {
  if (status == 401 || status == 403) return "denied";
  if (status == 429) return "rate_limited";
  return status < 400 ? "ok" : "error";
}

}  // namespace

namespace {

// Routes the request to its handler (after authentication and the route's authorization).
void dispatch(App& app, const http::Request& req, CountingResponder& counted) {
  const AppOptions& opt_ = app.options();
  const bool no_authenticator = app.auth() == nullptr;
  const Route* route = nullptr;
  bool path_known = false;
  for (const Route& r : kRoutes) {
    if (req.path != r.path) continue;
    path_known = true;
    if (req.method == r.method) route = &r;
  }
  std::string label = route ? route->path : "other";
  const bool kb_path = req.path == "/v1/kb" || req.path.rfind("/v1/kb/", 0) == 0;
  const bool chroma_path = family_of(req.path) == Family::kChroma;
  const bool auth_path = req.path.rfind("/v1/auth/", 0) == 0;
  const bool admin_path = req.path.rfind("/v1/admin/", 0) == 0;
  if (chroma_path) label = "/api/v2";
  if (kb_path) label = "/v1/kb";
  if (auth_path) label = "/v1/auth";
  if (admin_path) label = "/v1/admin";
  counted.set_label(label);
  // Without an Authenticator (--no-auth) only the static --api-key list applies.
  auto key_check = [&](bool needs) { return no_authenticator && needs ? check_api_key(opt_, req) : Status::ok(); };
  if (auth_path || admin_path) {
    if (Status a = key_check(true); !a.is_ok()) return counted.respond(error_response(a));
    if (auth_path) return handle_auth_routes(app, req, counted);
    return handle_admin(app, req, counted);
  }
  if (chroma_path) {
    Status a = key_check(!chroma_public_path(req.path));
    if (!a.is_ok()) {
      counted.respond(chroma::error(a));
    } else if (!app.ready() && !chroma_public_path(req.path)) {
      counted.respond(chroma::error(failed_precondition("the server is still loading")));
    } else {
      handle_chroma(app, req, counted);
    }
  } else if (kb_path) {
    if (Status a = key_check(true); !a.is_ok()) {
      counted.respond(error_response(a));
    } else if (!app.ready()) {
      counted.respond(error_response(failed_precondition("the server is still loading")));
    } else {
      handle_kb(app, req, counted);
    }
  } else if (!route) {
    if (path_known) {
      auto r = error_response(invalid_argument("method " + req.method + " not allowed on " + req.path));
      r.status = 405;
      counted.respond(r);
    } else {
      counted.respond(error_response(not_found("no route for " + req.method + " " + req.path)));
    }
  } else if (Status a = key_check(route->needs_auth); !a.is_ok()) {
    bool ollama = req.path.rfind("/api/", 0) == 0;
    counted.respond(error_response(a, ollama ? ErrorStyle::kOllama : ErrorStyle::kOpenAI));
  } else if (route->needs_auth && !app.ready()) {
    // Models are added while not ready; nothing but /health and /ready reads them then.
    counted.respond(error_response(failed_precondition("the server is still loading models")));
  } else if (auto key = opt_.response_cache_bytes ? cache_key(req) : std::nullopt; key) {
    if (auto hit = app.response_cache().get(*key)) {
      counted.respond({200, "application/json", std::move(*hit), {{"X-Cache", "hit"}}});
    } else {
      CachingResponder caching(counted, app.response_cache(), *key);
      route->fn(app, req, caching);
    }
  } else {
    route->fn(app, req, counted);
  }
}

}  // namespace

void App::handle(const http::Request& req, http::Responder& resp) {
  CountingResponder counted(resp, metrics_);
  ResponderScope scope(&counted);
  RequestAuth ra;
  ra.remote = req.remote;
  RequestAuthScope auth_scope(&ra);
  const Family fam = family_of(req.path);
  const bool open_path = req.path == "/health" || req.path == "/ready" ||
                         (auth_ && req.path == "/v1/auth/login" && req.method == "POST");
  bool admitted = true;
  if (!auth_) {
    ra.principal.kind = auth::Principal::Kind::kOpen;
  } else if (!open_path) {
    auto who = auth_->authenticate(request_credential(req));
    if (!who.is_ok()) {
      counted.set_label("unauthenticated");
      counted.respond(styled_error(who.status(), fam));
      ra.action = "authenticate";
      ra.detail = who.status().message();
      ra.audit = true;
      admitted = false;
    } else {
      ra.principal = std::move(who).value();
      if (auto d = auth_->admit(ra.principal); !d.allowed) {
        counted.set_label("rate_limited");
        counted.respond(rate_limited(d.retry_after_s, fam));
        ra.action = "request";
        ra.audit = true;
        admitted = false;
      }
    }
  }
  if (admitted && auth_ && !open_path) {
    // The route's own permission, before any handler or store is touched.
    Requirement need = requirement_for(*this, req);
    Status ok = authorize(need.permission, need.resource);
    if (ok.is_ok() && need.has_second) ok = authorize(need.second_permission, need.second_resource);
    if (!ok.is_ok()) {
      counted.set_label("forbidden");
      counted.respond(styled_error(ok, fam));
      admitted = false;
    }
  }
  if (admitted) dispatch(*this, req, counted);
  counted.finish();
  if (auth_ && ra.audit) {
    auth::AuditEvent ev;
    ev.actor = ra.principal.audit_name();
    ev.actor_kind = std::string(ra.principal.kind_name());
    ev.action = ra.action.empty() ? "request" : ra.action;
    ev.resource = ra.resource;
    ev.status = counted.status();
    ev.outcome = outcome_of(ev.status);
    ev.remote = req.remote;
    ev.detail = req.method + " " + req.path + (ra.detail.empty() ? "" : ": " + ra.detail);
    if (auto st = auth_->audit().append(std::move(ev)); !st.is_ok()) {
      log::error("audit log append failed: {}", st.status().to_string());
    }
  }
}


}  // namespace dkb::server
