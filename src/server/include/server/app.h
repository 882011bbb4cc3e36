// App: the HTTP API of deepkb serve — routes for the OpenAI, DeepSeek, simple and Ollama
// APIs plus /health, /ready and /metrics — over the loaded models' schedulers, and the
// knowledge base's native (/v1/kb) and Chroma-compatible (/api/v1, /api/v2) APIs.
//
// The one place that maps ErrorCode → HTTP status and JSON error body (errors.cpp).
// With an auth::Authenticator (set_auth), handle() authenticates every request except /health,
// /ready and POST /v1/auth/login, applies the caller's rate limit (429), checks the route's
// permission (request_auth.h) before any handler runs, and appends the audit entry afterwards.
// Thread-safety: handle() is called concurrently from HTTP connection threads; models are
// added before serving starts; readiness flips once.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "auth/authenticator.h"
#include "engine/model.h"
#include "kb/embedder.h"
#include "rag/rerank.h"
#include "kb/ingest_jobs.h"
#include "kb/ingestor.h"
#include "kb/searcher.h"
#include "kb/store.h"
#include "engine/scheduler.h"
#include "server/http.h"
#include "server/metrics.h"
#include "server/response_cache.h"
#include "tokenizer/chat_template.h"

namespace dkb::server {

struct ModelEntry {
  std::string name;                       // id reported by /v1/models
  std::vector<std::string> aliases;       // e.g. deepseek-chat, deepseek-reasoner
  std::shared_ptr<const engine::Model> model;
  std::unique_ptr<engine::Scheduler> scheduler;
  std::unique_ptr<tokenizer::ChatTemplate> chat_template;  // null for embedding models
  bool embedding = false;
  int64_t created = 0;                    // unix seconds
};

struct AppOptions {
  // Without an Authenticator (serve --no-auth): the keys every request must present; empty:
  // no authentication (loudly announced). With one, the Authenticator owns the static keys.
  std::vector<std::string> api_keys;
  size_t max_prompt_chars = 32768;        // the simple API's prompt limit
  int32_t default_max_tokens = 512;       // the simple API's default
  size_t response_cache_bytes = 64u << 20; // exact-match cache of deterministic responses; 0: off
};

class App {
 public:
  explicit App(AppOptions opt);
  ~App();
  void add_model(ModelEntry entry);
  void set_ready(bool ready) { ready_.store(ready); }
  // The knowledge base (before serving starts). embedder may be null: full-text search only.
  // data_dir: where vector indexes (DATA/indexes) and the ingestion job journal (DATA/jobs.db:
  // accepted jobs resume after a restart) are kept; empty = memory only. Errors: the journal's
  // (opening or loading it).
  Status set_knowledge_base(std::unique_ptr<kb::Store> store,
                            std::unique_ptr<kb::Embedder> embedder,
                            const std::string& data_dir = "");
  kb::IndexManager* kb_indexes() { return kb_indexes_.get(); }
  kb::Store* kb_store() { return kb_store_.get(); }
  // Users, keys, roles and the audit log (before serving starts); null: serve --no-auth.
  void set_auth(std::unique_ptr<auth::Authenticator> a) { auth_ = std::move(a); }
  auth::Authenticator* auth() { return auth_.get(); }
  // The only way routes search a knowledge base: the collection is authorized (kb.read for
  // the current request's principal, request_auth.h) before the store is touched, so
  // retrieval can never run over a collection the caller may not read.
  // chroma: collections without "hnsw:space" use L2, Chroma's default (else cosine).
  Result<kb::SearchResponse> search_kb(const std::string& collection, const kb::SearchRequest& r,
                                       bool chroma = false);
  // The collections the current request's principal may read, in store order.
  Result<std::vector<kb::Collection>> readable_collections();
  // Keeps role grants in step with a knowledge base renamed or deleted (no-op without auth).
  void kb_renamed(const std::string& from, const std::string& to);
  void kb_deleted(const std::string& name);
  kb::Ingestor* kb_ingestor() { return kb_ingestor_.get(); }
  kb::Embedder* kb_embedder() { return kb_embedder_.get(); }
  // The RAG rerank stage; null without an embedding model.
  rag::Reranker* reranker() { return reranker_.get(); }
  // Background ingestion jobs (large uploads); null without a knowledge base.
  kb::IngestJobs* kb_jobs() { return kb_jobs_.get(); }
  bool ready() const { return ready_.load(); }
  Metrics& metrics() { return metrics_; }
  ResponseCache& response_cache() { return response_cache_; }

  // Serves one request (any thread).
  void handle(const http::Request& req, http::Responder& resp);
  // The http::WsAcceptor of /v1/ws (ws_chat_session.cpp; protocol in ws_chat_session.h):
  // checks the path, the API key and readiness of an upgrade request (any thread).
  std::unique_ptr<http::WsSession> accept_websocket(const http::Request& req,
                                                    std::shared_ptr<http::WsConnection> conn,
                                                    http::Response* reject);

  // Model by id or alias; kind: "chat" (generative) or "embedding"; empty name = the first
  // model of that kind.
  ModelEntry* find_model(const std::string& name, bool embedding);
  const std::vector<std::unique_ptr<ModelEntry>>& models() const { return models_; }
  const AppOptions& options() const { return opt_; }
  void shutdown(int64_t grace_ms);

 private:
  AppOptions opt_;
  std::vector<std::unique_ptr<ModelEntry>> models_;
  std::atomic<bool> ready_{false};
  Metrics metrics_;
  ResponseCache response_cache_;
  std::unique_ptr<kb::Store> kb_store_;
  std::unique_ptr<kb::Embedder> kb_embedder_;
  std::unique_ptr<kb::IndexManager> kb_indexes_;  // after the store: destroyed (and saved) first
  std::unique_ptr<kb::Searcher> kb_searcher_;
  std::unique_ptr<kb::Searcher> kb_chroma_searcher_;
  std::unique_ptr<kb::Ingestor> kb_ingestor_;
  std::unique_ptr<rag::Reranker> reranker_;
  std::unique_ptr<kb::IngestJobs> kb_jobs_;  // declared after the ingestor: destroyed first
  std::unique_ptr<auth::Authenticator> auth_;
};

}  // namespace dkb::server
