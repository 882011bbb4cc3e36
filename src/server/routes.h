// Route handlers, one file per API family. Each returns after answering through resp.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/app.h"
#include "server/http.h"

namespace dkb::server {

// OpenAI / DeepSeek (openai_routes.cpp)
void handle_chat_completions(App& app, const http::Request& req, http::Responder& resp);
void handle_completions(App& app, const http::Request& req, http::Responder& resp);
void handle_embeddings(App& app, const http::Request& req, http::Responder& resp);
void handle_models(App& app, const http::Request& req, http::Responder& resp);
// The simple API: POST /v1/chat {prompt, temperature, max_tokens} (simple_routes.cpp)
void handle_simple_chat(App& app, const http::Request& req, http::Responder& resp);
// Ollama (ollama_routes.cpp)
void handle_ollama_chat(App& app, const http::Request& req, http::Responder& resp);
void handle_ollama_generate(App& app, const http::Request& req, http::Responder& resp);
void handle_ollama_embed(App& app, const http::Request& req, http::Responder& resp);
void handle_ollama_tags(App& app, const http::Request& req, http::Responder& resp);
// Ollama model information (ollama_info_routes.cpp)
void handle_ollama_show(App& app, const http::Request& req, http::Responder& resp);
void handle_ollama_ps(App& app, const http::Request& req, http::Responder& resp);
void handle_ollama_version(App& app, const http::Request& req, http::Responder& resp);

// GET /v1/ws without an upgrade: 426 (ws_chat_session.cpp)
void handle_ws_without_upgrade(App& app, const http::Request& req, http::Responder& resp);

// llama-server utilities (utility_routes.cpp)
void handle_tokenize(App& app, const http::Request& req, http::Responder& resp);
void handle_detokenize(App& app, const http::Request& req, http::Responder& resp);
void handle_apply_template(App& app, const http::Request& req, http::Responder& resp);
// Knowledge base, native API under /v1/kb (kb_routes.cpp)
void handle_kb(App& app, const http::Request& req, http::Responder& resp);
// Uploads (multipart) and ingestion jobs (kb_upload_routes.cpp)
void handle_kb_upload(App& app, const std::string& kb_name, const http::Request& req,
                      http::Responder& resp);
void handle_kb_jobs(App& app, const std::string& kb_name, const std::vector<std::string>& parts,
                    const http::Request& req, http::Responder& resp);
// Queues the requests as a job and answers 202 with it (and `rejected`, the files that could
// not be queued, when not empty); the job's error status when it could not be queued.
void respond_job_accepted(App& app, const std::string& kb_name,
                          std::vector<kb::IngestRequest> requests, http::Responder& resp,
                          const nlohmann::json& rejected = nlohmann::json::array());
nlohmann::json job_json(const kb::JobStatus& j);
// Vault import, link graph, one document with backlinks (kb_vault_routes.cpp)
void handle_kb_vault(App& app, const std::string& kb_name, const std::string& op,
                     const http::Request& req, http::Responder& resp);
void handle_kb_graph(App& app, const std::string& kb_name, const http::Request& req,
                     http::Responder& resp);
void handle_kb_document_get(App& app, const std::string& kb_name, const std::string& doc_id,
                            http::Responder& resp);
// POST /v1/kb/{kb}/verify and /repair (kb_maintenance_route.cpp)
void handle_kb_maintenance(App& app, const std::string& kb_name, bool repair,
                           http::Responder& resp);
// RAG: POST /v1/kb/{kb}/ask (ask_route.cpp)
void handle_kb_ask(App& app, const std::string& kb_name, const http::Request& req,
                   http::Responder& resp);

// Chroma-compatible API under /api/v1 and /api/v2 (chroma_collection_routes.cpp): system,
// tenant, database and collection routes; records in chroma_record_routes.cpp (writes) and
// chroma_read_routes.cpp (get, query, count).
void handle_chroma(App& app, const http::Request& req, http::Responder& resp);
// Chroma paths answered without authentication (heartbeat, version, checks).
bool chroma_public_path(const std::string& path);
void handle_chroma_write(App& app, const kb::Collection& coll, const std::string& op,
                         const http::Request& req, http::Responder& resp);
void handle_chroma_read(App& app, const kb::Collection& coll, const std::string& op,
                        const http::Request& req, http::Responder& resp);

// Sign-in: POST /v1/auth/login, GET /v1/auth/whoami (auth_routes.cpp)
void handle_auth_routes(App& app, const http::Request& req, http::Responder& resp);
// Users, API keys, knowledge-base grants and the audit log under /v1/admin (admin_routes.cpp)
void handle_admin(App& app, const http::Request& req, http::Responder& resp);

}  // namespace dkb::server
