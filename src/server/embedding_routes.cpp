// Embedding routes: OpenAI POST /v1/embeddings and Ollama POST /api/embed.
#include <optional>

#include <nlohmann/json.hpp>

#include "generation_util.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

std::string base64(const void* data, size_t n) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = static_cast<const uint8_t*>(data);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = p[i] << 16 | (i + 1 < n ? p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    out.push_back(k[(v >> 18) & 63]);
    out.push_back(k[(v >> 12) & 63]);
    out.push_back(i + 1 < n ? k[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < n ? k[v & 63] : '=');
  }
  return out;
}

struct EmbedResult {
  std::vector<std::vector<float>> vectors;
  int64_t n_tokens = 0;
  ModelEntry* model = nullptr;
};

// Tokenizes inputs (string, [string], [int], [[int]]) with the named embedding model and
// embeds them. Inputs longer than the model's context are truncated when truncate is set.
Result<EmbedResult> embed_inputs(App& app, const json& body, const char* input_key, bool truncate) {
  std::string name = body.value("model", "");
  ModelEntry* m = app.find_model(name, true);
  if (!m && !name.empty()) m = app.find_model("", true);  // clients often send any name
  if (!m) return failed_precondition("no embedding model is loaded (start serve with --embed-model)");
  auto it = body.find(input_key);
  if (it == body.end()) return invalid_argument(std::string("'") + input_key + "' is required");
  std::vector<std::vector<int32_t>> inputs;
  const auto& tok = m->model->tokenizer();
  auto add_text = [&](const std::string& s) {
    inputs.push_back(tok.encode(s, {.add_special = true, .parse_special = false}));
  };
  auto add_ids = [&](const json& arr) -> Status {
    std::vector<int32_t> ids;
    for (const auto& t : arr) {
      if (!t.is_number_integer()) return invalid_argument("token arrays must hold integers");
      int64_t id = t.get<int64_t>();
      if (id < 0 || id >= tok.n_vocab()) return invalid_argument("token " + std::to_string(id) + " is outside the vocabulary");
      ids.push_back(static_cast<int32_t>(id));
    }
    inputs.push_back(std::move(ids));
    return Status::ok();
  };
  if (it->is_string()) {
    add_text(it->get<std::string>());
  } else if (it->is_array() && !it->empty()) {
    if ((*it)[0].is_number_integer()) {
      DKB_RETURN_IF_ERROR(add_ids(*it));
    } else {
      for (const auto& e : *it) {
        if (e.is_string()) add_text(e.get<std::string>());
        else if (e.is_array()) DKB_RETURN_IF_ERROR(add_ids(e));
        else return invalid_argument(std::string("'") + input_key + "' items must be strings or token arrays");
      }
    }
  } else {
    return invalid_argument(std::string("'") + input_key + "' must be a string or a non-empty array");
  }
  if (inputs.size() > 2048) return invalid_argument("at most 2048 inputs per request");
  EmbedResult res;
  res.model = m;
  const int64_t n_ctx = m->scheduler->n_ctx();
  for (auto& in : inputs) {
    if (in.empty()) return invalid_argument("an input is empty");
    if (static_cast<int64_t>(in.size()) > n_ctx) {
      if (!truncate) {
        return invalid_argument("an input has " + std::to_string(in.size()) +
                                " tokens; the model's context is " + std::to_string(n_ctx));
      }
      int32_t last = in.back();
      in.resize(static_cast<size_t>(n_ctx));
      in.back() = last;  // keep [SEP]
    }
    res.n_tokens += static_cast<int64_t>(in.size());
  }
  auto ch = std::make_shared<std::pair<std::mutex, std::condition_variable>>();
  std::optional<Result<std::vector<std::vector<float>>>> out;
  engine::EmbeddingRequest er;
  er.inputs = std::move(inputs);
  er.normalize = true;
  er.on_done = [&out, ch](Result<std::vector<std::vector<float>>>&& r) {
    std::lock_guard<std::mutex> lock(ch->first);
    out.emplace(std::move(r));
    ch->second.notify_one();
  };
  DKB_RETURN_IF_ERROR(m->scheduler->submit(std::move(er)));
  {
    std::unique_lock<std::mutex> lock(ch->first);
    ch->second.wait(lock, [&] { return out.has_value(); });
  }
  if (!out->is_ok()) return out->status();
  res.vectors = std::move(*out).value();
  return res;
}

}  // namespace

void handle_embeddings(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  std::string format = body->value("encoding_format", "float");
  if (format != "float" && format != "base64") {
    return resp.respond(error_response(invalid_argument("'encoding_format' must be 'float' or 'base64'")));
  }
  auto r = embed_inputs(app, *body, "input", false);
  if (!r.is_ok()) return resp.respond(error_response(r.status()));
  json data = json::array();
  for (size_t i = 0; i < r->vectors.size(); ++i) {
    const auto& v = r->vectors[i];
    json e = {{"object", "embedding"}, {"index", i}};
    if (format == "base64") e["embedding"] = base64(v.data(), v.size() * sizeof(float));
    else e["embedding"] = v;
    data.push_back(std::move(e));
  }
  resp.respond(json_response(200, {{"object", "list"}, {"data", data}, {"model", body->value("model", r->model->name)},
                                   {"usage", {{"prompt_tokens", r->n_tokens}, {"total_tokens", r->n_tokens}}}}));
}

void handle_ollama_embed(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status(), ErrorStyle::kOllama));
  auto truncate = get_bool(*body, "truncate", true);
  if (!truncate.is_ok()) return resp.respond(error_response(truncate.status(), ErrorStyle::kOllama));
  auto r = embed_inputs(app, *body, "input", *truncate);
  if (!r.is_ok()) return resp.respond(error_response(r.status(), ErrorStyle::kOllama));
  resp.respond(json_response(200, {{"model", body->value("model", r->model->name)},
                                   {"embeddings", r->vectors},
                                   {"prompt_eval_count", r->n_tokens}}));
}

}  // namespace dkb::server
