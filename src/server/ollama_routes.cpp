// Ollama-compatible routes: /api/chat and /api/generate (NDJSON streaming by default),
// /api/tags (show, ps and version in ollama_info_routes.cpp). Errors use Ollama's {"error": "..."} shape.
#include <chrono>
#include <ctime>

#include "generation_util.h"
#include "ollama_util.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

std::string rfc3339_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Maps Ollama "options" onto OpenAI-style sampling fields.
Result<json> ollama_options(const json& body) {
  json o = json::object();
  auto it = body.find("options");
  if (it == body.end() || it->is_null()) return o;
  if (!it->is_object()) return invalid_argument("'options' must be an object");
  for (const char* k : {"temperature", "top_p", "top_k", "min_p", "seed", "stop", "repeat_penalty",
                        "frequency_penalty", "presence_penalty"}) {
    if (it->contains(k)) o[k] = (*it)[k];
  }
  if (it->contains("num_predict")) {
    const json& n = (*it)["num_predict"];
    if (!n.is_number_integer()) return invalid_argument("'options.num_predict' must be an integer");
    if (n.get<int64_t>() > 0) o["max_tokens"] = n;
  }
  return o;
}

Result<ModelEntry*> ollama_model(App& app, const json& body) {
  auto it = body.find("model");
  if (it == body.end() || !it->is_string()) return invalid_argument("'model' is required");
  std::string name = it->get<std::string>();
  ModelEntry* m = app.find_model(name, false);
  // Ollama names carry a tag (":latest"); accept the bare name too.
  if (!m && name.find(':') != std::string::npos) m = app.find_model(name.substr(0, name.find(':')), false);
  if (!m) return not_found("model '" + name + "' not found, try pulling it first");
  return m;
}

json final_stats(const engine::GenerationEvent& done) {
  const auto& r = done.result;
  auto ns = [](double ms) { return static_cast<int64_t>(ms * 1e6); };
  return {{"total_duration", ns(r.prompt_ms + r.generate_ms)},
          {"load_duration", 0},
          {"prompt_eval_count", r.n_prompt},
          {"prompt_eval_duration", ns(r.prompt_ms)},
          {"eval_count", r.n_generated},
          {"eval_duration", ns(r.generate_ms)}};
}

// Shared by /api/chat and /api/generate: runs the generation and answers in NDJSON or JSON.
void run_ollama(App& app, ModelEntry& m, engine::GenerationRequest gr, bool stream_out,
                bool starts_in_think, bool chat, http::Responder& resp) {
  ThinkSplitter splitter(starts_in_think);
  auto piece_json = [&](const std::string& thinking, const std::string& content, bool done) {
    json j = {{"model", m.name}, {"created_at", rfc3339_now()}, {"done", done}};
    if (chat) {
      json msg = {{"role", "assistant"}, {"content", content}};
      if (!thinking.empty()) msg["thinking"] = thinking;
      j["message"] = msg;
    } else {
      j["response"] = content;
      if (!thinking.empty()) j["thinking"] = thinking;
    }
    return j;
  };
  auto line = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; };
  http::Stream* stream = nullptr;
  std::string thinking_all, content_all;
  auto done = run_generation(*m.scheduler, std::move(gr), [&](const std::string& t) {
    auto [r, c] = splitter.push(t);
    if (!stream_out) {
      thinking_all += r;
      content_all += c;
      return true;
    }
    if (r.empty() && c.empty()) return true;
    if (!stream) stream = &resp.stream(200, "application/x-ndjson", {});
    return stream->write(line(piece_json(r, c, false)));
  });
  if (!done.is_ok()) {
    if (!stream) return resp.respond(error_response(done.status(), ErrorStyle::kOllama));
    stream->write(line({{"error", done.status().message()}}));
    return;
  }
  record_metrics(app, *done);
  auto [r, c] = splitter.flush();
  json last;
  if (stream_out) {
    if (!stream) stream = &resp.stream(200, "application/x-ndjson", {});
    if (!r.empty() || !c.empty()) stream->write(line(piece_json(r, c, false)));
    last = piece_json("", "", true);
  } else {
    last = piece_json(sanitize_utf8(thinking_all + r), sanitize_utf8(content_all + c), true);
  }
  last["done_reason"] = engine::finish_reason_name(done->result.finish);
  last.update(final_stats(*done));
  if (stream_out) stream->write(line(last));
  else resp.respond(json_response(200, last));
}

}  // namespace

void handle_ollama_chat(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status(), ErrorStyle::kOllama));
  auto model = ollama_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status(), ErrorStyle::kOllama));
  auto stream = get_bool(*body, "stream", true);
  auto opts = ollama_options(*body);
  if (!stream.is_ok() || !opts.is_ok()) {
    return resp.respond(error_response(!stream.is_ok() ? stream.status() : opts.status(), ErrorStyle::kOllama));
  }
  auto it = body->find("messages");
  if (it == body->end()) return resp.respond(error_response(invalid_argument("'messages' is required"), ErrorStyle::kOllama));
  auto messages = normalize_messages(*it);
  if (!messages.is_ok()) return resp.respond(error_response(messages.status(), ErrorStyle::kOllama));
  engine::GenerationRequest gr;
  Status s = read_sampling(*opts, gr.params, -1);
  if (!s.is_ok()) return resp.respond(error_response(s, ErrorStyle::kOllama));
  auto prompt = render_chat(**model, *messages);
  if (!prompt.is_ok()) return resp.respond(error_response(prompt.status(), ErrorStyle::kOllama));
  gr.prompt = std::move(prompt->tokens);
  run_ollama(app, **model, std::move(gr), *stream, prompt->starts_in_think, true, resp);
}

void handle_ollama_generate(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status(), ErrorStyle::kOllama));
  auto model = ollama_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status(), ErrorStyle::kOllama));
  auto stream = get_bool(*body, "stream", true);
  auto raw = get_bool(*body, "raw", false);
  auto opts = ollama_options(*body);
  if (!stream.is_ok() || !raw.is_ok() || !opts.is_ok()) {
    Status bad = !stream.is_ok() ? stream.status() : !raw.is_ok() ? raw.status() : opts.status();
    return resp.respond(error_response(bad, ErrorStyle::kOllama));
  }
  auto p = body->find("prompt");
  if (p == body->end() || !p->is_string()) {
    return resp.respond(error_response(invalid_argument("'prompt' is required and must be a string"), ErrorStyle::kOllama));
  }
  engine::GenerationRequest gr;
  Status s = read_sampling(*opts, gr.params, -1);
  if (!s.is_ok()) return resp.respond(error_response(s, ErrorStyle::kOllama));
  bool in_think = false;
  if (*raw) {
    gr.prompt = tokenize_prompt(**model, p->get<std::string>());
  } else {
    json messages = json::array();
    if (body->contains("system") && (*body)["system"].is_string()) {
      messages.push_back({{"role", "system"}, {"content", (*body)["system"]}});
    }
    messages.push_back({{"role", "user"}, {"content", *p}});
    auto rendered = render_chat(**model, messages);
    if (!rendered.is_ok()) return resp.respond(error_response(rendered.status(), ErrorStyle::kOllama));
    gr.prompt = std::move(rendered->tokens);
    in_think = rendered->starts_in_think;
  }
  run_ollama(app, **model, std::move(gr), *stream, in_think, false, resp);
}

void handle_ollama_tags(App& app, const http::Request&, http::Responder& resp) {
  json models = json::array();
  for (const auto& m : app.models()) {
    models.push_back({{"name", m->name},
                      {"model", m->name},
                      {"modified_at", ollama_modified_at(*m)},
                      {"size", m->model->file().file_size()},
                      {"digest", ""},
                      {"details", ollama_model_details(*m)}});
  }
  resp.respond(json_response(200, {{"models", models}}));
}

}  // namespace dkb::server
