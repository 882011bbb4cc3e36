// deepkb serve: the HTTP server (OpenAI, DeepSeek, simple and Ollama APIs).
#include <csignal>
#include <filesystem>
#include <cstdio>
#include <thread>

#include "base/log.h"
#include "base/thread_pool.h"
#include "commands.h"
#include "model_options.h"
#include "engine/model.h"
#include "engine/scheduler.h"
#include "auth/authenticator.h"
#include "kb/sqlite_store.h"
#include "server/app.h"
#include "server/engine_embedder.h"
#include "server/http.h"
#include "tokenizer/chat_template.h"

namespace dkb::cli {
namespace {


struct ServeOpts {
  std::vector<std::string> models;
  std::vector<std::string> aliases;
  std::string embed_model;
  std::string host = "127.0.0.1";
  int port = 8080;
  int64_t ctx_size = 0;
  int parallel = 4;
  int64_t max_batch = 256;
  int threads = 0;
  LoadFlags load_flags;
  int max_queue = 64;
  std::vector<std::string> api_keys;
  size_t prompt_limit = 32768;
  int64_t drain_ms = 10000;
  bool no_warmup = false;
  std::string data_dir;
  size_t cache_mb = 64;
  bool no_auth = false;
  std::string jwt_secret_file;
  int64_t token_ttl = 3600;
  double rate_limit = 600;
  double rate_burst = 0;
  std::string admin_user = "admin";
};

// Opens users/keys/audit in the data directory and creates the first administrator of an
// empty installation (password from $DEEPKB_ADMIN_PASSWORD, else generated and printed once).
Result<std::unique_ptr<auth::Authenticator>> open_auth(const ServeOpts& o, const std::string& data_dir) {
  auth::AuthOptions ao;
  ao.data_dir = data_dir;
  ao.static_keys = o.api_keys;
  ao.token_ttl_s = o.token_ttl;
  ao.rate_per_minute = o.rate_limit;
  ao.rate_burst = o.rate_burst;
  if (const char* env = std::getenv("DEEPKB_JWT_SECRET"); env && *env) ao.jwt_secret = env;
  if (!o.jwt_secret_file.empty()) {
    DKB_ASSIGN_OR_RETURN(ao.jwt_secret, auth::load_or_create_secret(o.jwt_secret_file));
  }
  DKB_ASSIGN_OR_RETURN(auto a, auth::Authenticator::open(ao));
  const char* env_pw = std::getenv("DEEPKB_ADMIN_PASSWORD");
  DKB_ASSIGN_OR_RETURN(auto admin, a->ensure_admin(o.admin_user, env_pw ? env_pw : ""));
  if (admin && !admin->password.empty()) {
    std::printf("deepkb: created administrator '%s' with password: %s\n"
                "deepkb: (shown once; change it with: deepkb user passwd %s)\n",
                admin->username.c_str(), admin->password.c_str(), admin->username.c_str());
  } else if (admin) {
    std::printf("deepkb: created administrator '%s' (password from DEEPKB_ADMIN_PASSWORD)\n",
                admin->username.c_str());
  }
  return a;
}

// $XDG_DATA_HOME/deepkb, else ~/.local/share/deepkb, else ./deepkb-data.
std::string default_data_dir() {
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/deepkb";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.local/share/deepkb";
  return "deepkb-data";
}

Result<server::ModelEntry> load_entry(const std::string& path, bool embedding, ThreadPool& pool,
                                      const ServeOpts& o) {
  DKB_ASSIGN_OR_RETURN(engine::LoadOptions lo, o.load_flags.load_options(o.threads));
  DKB_ASSIGN_OR_RETURN(auto model, engine::Model::load(path, lo));
  bool is_emb = model->arch().embedding_dim() > 0;
  if (embedding && !is_emb) return invalid_argument("--embed-model '" + path + "' is not an embedding model");
  if (!embedding && is_emb) return invalid_argument("'" + path + "' is an embedding model; pass it with --embed-model");
  server::ModelEntry e;
  // Model ids are file names without .gguf, as users see them on disk (and Ollama lists them).
  e.name = std::filesystem::path(path).stem().string();
  e.embedding = is_emb;
  e.model = model;
  if (!is_emb) {
    std::string src = model->chat_template().value_or(tokenizer::kChatMlTemplate);
    auto tmpl = tokenizer::ChatTemplate::parse(src);
    if (!tmpl.is_ok()) return tmpl.status().with_context("chat template of '" + path + "'");
    e.chat_template = std::make_unique<tokenizer::ChatTemplate>(std::move(tmpl).value());
  }
  engine::SchedulerOptions so;
  so.n_parallel = o.parallel;
  so.n_ctx = o.ctx_size;
  so.max_queue = o.max_queue;
  so.n_batch = o.max_batch;
  so.kv_f16 = o.load_flags.kv_f16();
  e.scheduler = std::make_unique<engine::Scheduler>(model, pool, so);
  return e;
}

// One short generation (or embedding) so the first request pays no first-touch costs.
void warm_up(server::ModelEntry& e) {
  if (e.embedding) {
    engine::EmbeddingRequest r;
    r.inputs = {e.model->tokenizer().encode("warm up", {.add_special = true})};
    std::atomic<bool> done{false};
    r.on_done = [&](Result<std::vector<std::vector<float>>>&&) { done.store(true); };
    if (e.scheduler->submit(std::move(r)).is_ok()) while (!done.load()) std::this_thread::yield();
    return;
  }
  engine::GenerationRequest r;
  r.prompt = e.model->tokenizer().encode("Hello", {.add_special = true});
  r.params.max_tokens = 1;
  r.params.sampling.temperature = 0;
  std::atomic<bool> done{false};
  r.on_event = [&](engine::GenerationEvent&& ev) {
    if (ev.kind != engine::GenerationEvent::Kind::kText) done.store(true);
  };
  if (e.scheduler->submit(std::move(r)).is_ok()) while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOpts>();
  app.add_option("-m,--model", o->models, "chat model GGUF (repeatable)");
  app.add_option("--alias", o->aliases, "extra model id for the first chat model, e.g. deepseek-chat (repeatable)");
  app.add_option("--embed-model", o->embed_model, "embedding model GGUF");
  app.add_option("--host", o->host, "listen address");
  app.add_option("--port", o->port, "listen port (0: any free port)");
  app.add_option("-c,--ctx-size", o->ctx_size,
                 "KV cache positions per model, shared by all sequences in pages of 16 (default: "
                 "--parallel x min(model's context, 8192)); one sequence may use up to "
                 "min(ctx-size, max(model's context, ctx-size / parallel))");
  app.add_option("--parallel", o->parallel, "most sequences decoded concurrently per model");
  app.add_option("--max-batch-size", o->max_batch, "most prompt tokens per sequence per step");
  app.add_option("-t,--threads", o->threads, "compute threads (default: all cores)");
  o->load_flags.add_to(app);
  app.add_option("--max-queue", o->max_queue, "waiting requests before 503");
  app.add_option("--api-key", o->api_keys, "static API key with global admin rights (repeatable)");
  app.add_flag("--no-auth", o->no_auth, "no users or roles: the API is open (or needs only --api-key)");
  app.add_option("--jwt-secret-file", o->jwt_secret_file,
                 "JWT signing secret (default: $DEEPKB_JWT_SECRET, else DATA/jwt.secret, generated, mode 0600)");
  app.add_option("--token-ttl", o->token_ttl, "lifetime of login tokens in seconds");
  app.add_option("--rate-limit", o->rate_limit, "requests per minute per user and per API key (0: unlimited)");
  app.add_option("--rate-burst", o->rate_burst, "requests allowed back to back (default: max(10, rate/5))");
  app.add_option("--admin-user", o->admin_user, "name of the administrator created on first run");
  app.add_option("--prompt-limit", o->prompt_limit, "the simple API's prompt limit in bytes");
  app.add_option("--drain-ms", o->drain_ms, "on SIGTERM, how long in-flight requests may finish");
  app.add_flag("--no-warmup", o->no_warmup, "skip the warm-up generation");
  app.add_option("--response-cache-mb", o->cache_mb, "exact-match cache of deterministic responses (0: off)");
  app.add_option("--data", o->data_dir, "knowledge-base data directory (default: $XDG_DATA_HOME/deepkb)");
  return [o]() -> int {
    if (o->models.empty() && o->embed_model.empty()) return fail("give a model with -m and/or --embed-model");
    if (o->ctx_size < 0) return fail("--ctx-size must be >= 0 (0: --parallel x the model's context)");
    // The knowledge base's store is opened first: a data directory in use fails at once.
    std::string data_dir = o->data_dir.empty() ? default_data_dir() : o->data_dir;
    auto store = kb::open_sqlite_store(data_dir);
    if (!store.is_ok()) return fail(store.status().to_string());
    if (o->port < 0 || o->port > 65535) return fail("--port must be in [0, 65535]");
    // Signals are handled by sigwait below; block them before any thread starts.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    server::AppOptions ao;
    ao.api_keys = o->api_keys;
    ao.max_prompt_chars = o->prompt_limit;
    ao.response_cache_bytes = o->cache_mb << 20;
    server::App api(ao);
    if (!o->no_auth) {
      auto a = open_auth(*o, data_dir);
      if (!a.is_ok()) return fail(a.status().to_string());
      api.set_auth(std::move(a).value());
    }
    auto http = server::http::Server::create();
    server::http::ServerOptions so;
    so.host = o->host;
    so.port = static_cast<uint16_t>(o->port);
    Status st = http->start(
        so, [&api](const server::http::Request& r, server::http::Responder& w) { api.handle(r, w); },
        [&api](const server::http::Request& r, std::shared_ptr<server::http::WsConnection> c,
               server::http::Response* reject) { return api.accept_websocket(r, std::move(c), reject); });
    if (!st.is_ok()) return fail(st.to_string());
    std::printf("deepkb: listening on http://%s:%u\n", o->host.c_str(), http->port());
    if (o->no_auth && o->api_keys.empty()) {
      std::fprintf(stderr, "deepkb: WARNING: --no-auth: authentication is OFF; anyone who can reach %s:%u may read, "
                   "change and delete every knowledge base and use every model\n", o->host.c_str(), http->port());
    } else if (o->no_auth) {
      std::fprintf(stderr, "deepkb: WARNING: --no-auth: no users or roles; every holder of the shared --api-key "
                   "may do everything\n");
    } else {
      std::printf("deepkb: authentication on: users, keys and audit log in %s/auth.db\n", data_dir.c_str());
    }
    std::fflush(stdout);

    ThreadPool pool(o->threads);
    bool first = true;
    for (const auto& path : o->models) {
      auto e = load_entry(path, false, pool, *o);
      if (!e.is_ok()) return fail(e.status().to_string());
      if (first) e->aliases = o->aliases;
      first = false;
      if (!o->no_warmup) warm_up(*e);
      std::printf("deepkb: loaded %s as '%s' (%s)\n", path.c_str(), e->name.c_str(), e->model->hparams().arch.c_str());
      api.add_model(std::move(e).value());
    }
    if (!o->embed_model.empty()) {
      auto e = load_entry(o->embed_model, true, pool, *o);
      if (!e.is_ok()) return fail(e.status().to_string());
      if (!o->no_warmup) warm_up(*e);
      std::printf("deepkb: loaded embedding model %s as '%s'\n", o->embed_model.c_str(), e->name.c_str());
      api.add_model(std::move(e).value());
    }
    {
      server::ModelEntry* emb = api.find_model("", true);
      std::unique_ptr<kb::Embedder> embedder;
      if (emb) embedder = std::make_unique<server::EngineEmbedder>(emb->model, *emb->scheduler);
      Status kb_ok = api.set_knowledge_base(std::move(store).value(), std::move(embedder), data_dir);
      if (!kb_ok.is_ok()) return fail(kb_ok.to_string());
      if (size_t n = api.kb_jobs()->resumed_jobs(); n > 0) {
        std::printf("deepkb: resuming %zu ingestion job(s) accepted before the last stop\n", n);
      }
      std::printf("deepkb: knowledge base at %s (%s)\n", data_dir.c_str(),
                  emb ? ("embeddings by " + emb->name).c_str() : "full-text search only: no --embed-model");
    }
    api.set_ready(true);
    std::printf("deepkb: ready\n");
    std::fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    std::printf("deepkb: %s received, draining (up to %lld ms)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                static_cast<long long>(o->drain_ms));
    std::fflush(stdout);
    http->stop_accepting();
    api.shutdown(o->drain_ms);
    // Work is drained or cancelled: WebSocket clients, which would stay connected, are told.
    http->close_websockets(1001, "the server is shutting down");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o->drain_ms + 2000);
    while (http->active_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::printf("deepkb: stopped\n");
    return 0;
  };
}

}  // namespace dkb::cli
