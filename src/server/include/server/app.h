// App: the HTTP API of deepkb serve — routes for the OpenAI, DeepSeek, simple and Ollama
// APIs plus /health, /ready and /metrics — over the loaded models' schedulers, and the
// knowledge base's native (/v1/kb) and Chroma-compatible (/api/v1, /api/v2) APIs.
//
// The one place that maps ErrorCode → HTTP status and JSON error body (errors.cpp).
// Thread-safety: handle() is called concurrently from HTTP connection threads; models are
// added before serving starts; readiness flips once.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "kb/embedder.h"
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
  std::vector<std::string> api_keys;      // empty: no authentication (loudly announced)
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
  void set_knowledge_base(std::unique_ptr<kb::Store> store, std::unique_ptr<kb::Embedder> embedder);
  kb::Store* kb_store() { return kb_store_.get(); }
  kb::Searcher* kb_searcher() { return kb_searcher_.get(); }
  // Searcher for the Chroma API: collections without "hnsw:space" use L2, Chroma's default.
  kb::Searcher* kb_chroma_searcher() { return kb_chroma_searcher_.get(); }
  kb::Ingestor* kb_ingestor() { return kb_ingestor_.get(); }
  kb::Embedder* kb_embedder() { return kb_embedder_.get(); }
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
  std::unique_ptr<kb::Searcher> kb_searcher_;
  std::unique_ptr<kb::Searcher> kb_chroma_searcher_;
  std::unique_ptr<kb::Ingestor> kb_ingestor_;
};

}  // namespace dkb::server
