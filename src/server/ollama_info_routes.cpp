// Ollama's model information routes: POST /api/show, GET /api/ps, GET /api/version.
// Errors use Ollama's {"error": "..."} shape.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "ollama_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

std::string rfc3339(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t parameter_count(const ModelEntry& m) {
  int64_t n = 0;
  for (const auto& t : m.model->file().tensors()) n += t.n_elements();
  return n;
}

// Ollama's human form: "1.5B", "494.0M", "260K".
std::string human_count(int64_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.1fB", n / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  else if (n >= 1000) std::snprintf(buf, sizeof buf, "%.0fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  return buf;
}

// GGUF metadata as Ollama's model_info: scalars as values, arrays (the vocabulary …) as
// null, as Ollama does without "verbose"; with verbose, numeric and string arrays in full.
json model_info(const ModelEntry& m, bool verbose) {
  json info = json::object();
  for (const auto& [key, v] : m.model->file().metadata()) {
    if (v.is_array()) {
      if (!verbose) {
        info[key] = nullptr;
      } else if (!v.strings().empty()) {
        json a = json::array();
        for (const auto& s : v.strings()) a.push_back(sanitize_utf8(s));
        info[key] = a;
      } else if (auto f = m.model->file().get_float_array(key)) {
        info[key] = *f;
      } else {
        info[key] = nullptr;
      }
    } else if (const std::string* s = v.as_string()) {
      info[key] = sanitize_utf8(*s);
    } else if (v.is_float()) {
      info[key] = *v.as_float();
    } else if (auto b = v.as_bool()) {
      info[key] = *b;
    } else if (auto i = v.as_int()) {
      info[key] = *i;
    } else if (auto u = v.as_uint()) {
      info[key] = *u;
    }
  }
  if (!info.contains("general.parameter_count")) info["general.parameter_count"] = parameter_count(m);
  return info;
}

}  // namespace

json ollama_model_details(const ModelEntry& m) {
  const auto& f = m.model->file();
  std::string quant = "unknown";
  if (const auto* t = f.find_tensor("blk.0.attn_v.weight")) quant = std::string(tensor_type_name(t->type));
  for (char& c : quant) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));  // Ollama: "Q4_0"
  const std::string& arch = m.model->hparams().arch;
  return {{"parent_model", ""}, {"format", "gguf"}, {"family", arch}, {"families", json::array({arch})},
          {"parameter_size", human_count(parameter_count(m))}, {"quantization_level", quant}};
}

std::string ollama_modified_at(const ModelEntry& m) {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(m.model->file().path(), ec);
  if (ec) return rfc3339(std::time(nullptr));
  auto sys = std::chrono::file_clock::to_sys(t);
  return rfc3339(std::chrono::system_clock::to_time_t(sys));
}

void handle_ollama_show(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status(), ErrorStyle::kOllama));
  // "model" (current clients) or "name" (older ones).
  const json* name = nullptr;
  for (const char* k : {"model", "name"}) {
    if (auto it = body->find(k); it != body->end() && !it->is_null()) {
      name = &*it;
      break;
    }
  }
  if (!name || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return resp.respond(error_response(invalid_argument("'model' is required and must be a string"), ErrorStyle::kOllama));
  }
  auto verbose = get_bool(*body, "verbose", false);
  if (!verbose.is_ok()) return resp.respond(error_response(verbose.status(), ErrorStyle::kOllama));
  std::string n = name->get<std::string>();
  std::string bare = n.substr(0, n.find(':'));  // Ollama names carry a tag (":latest")
  ModelEntry* m = nullptr;
  for (bool emb : {false, true}) {
    if (!m) m = app.find_model(n, emb);
    if (!m) m = app.find_model(bare, emb);
  }
  if (!m) return resp.respond(error_response(not_found("model '" + n + "' not found"), ErrorStyle::kOllama));
  const auto& f = m->model->file();
  std::string params = "num_ctx " + std::to_string(m->scheduler->n_ctx());
  json caps = json::array();
  std::string tmpl = f.get_string("tokenizer.chat_template").value_or("");
  if (m->embedding) {
    caps.push_back("embedding");
  } else {
    caps.push_back("completion");
    if (tmpl.find("<think>") != std::string::npos) caps.push_back("thinking");
  }
  json out = {{"license", sanitize_utf8(f.get_string("general.license").value_or(""))},
              {"modelfile", "# Modelfile of a model served by deepkb\nFROM " + f.path() + "\n"},
              {"parameters", params},
              {"template", sanitize_utf8(tmpl)},
              {"details", ollama_model_details(*m)},
              {"model_info", model_info(*m, *verbose)},
              {"capabilities", caps},
              {"modified_at", ollama_modified_at(*m)}};
  resp.respond(json_response(200, out));
}

void handle_ollama_ps(App& app, const http::Request&, http::Responder& resp) {
  // Models stay loaded while the server runs: expiry is reported far in the future, as
  // Ollama does for keep_alive -1.
  const std::string never = "2318-01-01T00:00:00Z";
  json models = json::array();
  for (const auto& m : app.models()) {
    const auto& f = m->model->file();
    models.push_back({{"name", m->name},
                      {"model", m->name},
                      {"size", f.file_size()},
                      {"digest", ""},
                      {"details", ollama_model_details(*m)},
                      {"expires_at", never},
                      {"size_vram", 0},
                      {"context_length", m->scheduler->n_ctx()}});
  }
  resp.respond(json_response(200, {{"models", models}}));
}

void handle_ollama_version(App&, const http::Request&, http::Responder& resp) {
  resp.respond(json_response(200, {{"version", DKB_VERSION}}));
}

}  // namespace dkb::server
