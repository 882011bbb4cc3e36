#include "generation_util.h"

#include <chrono>
#include <random>

namespace dkb::server {

Result<ModelEntry*> chat_model(App& app, const json& body) {
  std::string name;
  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return invalid_argument("'model' must be a string");
    name = it->get<std::string>();
  }
  ModelEntry* m = app.find_model(name, false);
  if (!m) {
    if (app.find_model(name, true)) {
      return invalid_argument("model '" + name + "' is an embedding model and cannot generate text");
    }
    std::string known;
    for (const auto& e : app.models()) {
      if (e->embedding) continue;
      known += (known.empty() ? "" : ", ") + e->name;
      for (const auto& a : e->aliases) known += ", " + a;
    }
    return not_found("model '" + name + "' not found (available: " + known + ")");
  }
  return m;
}

Result<json> normalize_messages(const json& messages) {
  if (!messages.is_array() || messages.empty()) {
    return invalid_argument("'messages' must be a non-empty array");
  }
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return invalid_argument(where + " must be an object");
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return invalid_argument(where + ".role must be a string");
    std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer") {
      return invalid_argument(where + ".role '" + r + "' is not one of system, user, assistant, tool");
    }
    json n = m;
    if (r == "developer") n["role"] = "system";
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      n["content"] = "";
    } else if (content->is_array()) {
      std::string text;
      for (const auto& part : *content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string()) {
          return invalid_argument(where + ".content parts must be {\"type\":\"text\",\"text\":...}");
        }
        text += part["text"].get<std::string>();
      }
      n["content"] = text;
    } else if (!content->is_string()) {
      return invalid_argument(where + ".content must be a string or an array of text parts");
    }
    out.push_back(std::move(n));
  }
  return out;
}

Result<RenderedPrompt> render_chat(const ModelEntry& m, const json& messages) {
  const auto& tok = m.model->tokenizer();
  const std::string bos = tok.bos() >= 0 ? std::string(tok.text(tok.bos())) : "";
  const std::string eos = tok.eos() >= 0 ? std::string(tok.text(tok.eos())) : "";
  json ctx = {{"messages", messages}, {"add_generation_prompt", true}, {"bos_token", bos},
              {"eos_token", eos}};
  auto rendered = m.chat_template->render(ctx);
  if (!rendered.is_ok()) return rendered.status().with_context("chat template");
  RenderedPrompt p;
  bool has_bos = !bos.empty() && rendered->rfind(bos, 0) == 0;
  p.tokens = tok.encode(*rendered, {.add_special = !has_bos, .parse_special = true});
  p.starts_in_think = ends_in_think(*rendered);
  return p;
}

bool ends_in_think(std::string_view r) {
  while (!r.empty() && (r.back() == '\n' || r.back() == ' ')) r.remove_suffix(1);
  return r.size() >= 7 && r.substr(r.size() - 7) == "<think>";
}

std::vector<int32_t> tokenize_prompt(const ModelEntry& m, const std::string& prompt) {
  return m.model->tokenizer().encode(prompt, {.add_special = true, .parse_special = true});
}

json usage_json(const engine::GenerationEvent& done) {
  const auto& r = done.result;
  return {{"prompt_tokens", r.n_prompt},
          {"completion_tokens", r.n_generated},
          {"total_tokens", r.n_prompt + r.n_generated},
          {"prompt_tokens_details", {{"cached_tokens", done.n_cached}}},
          {"prompt_cache_hit_tokens", done.n_cached},
          {"prompt_cache_miss_tokens", r.n_prompt - done.n_cached}};
}

void record_metrics(App& app, const engine::GenerationEvent& done) {
  const auto& r = done.result;
  app.metrics().tokens(r.n_prompt, done.n_cached, r.n_generated);
  if (r.n_generated > 0) {
    app.metrics().ttft_ms(done.ttft_ms);
    if (r.n_generated > 1) app.metrics().per_token_ms(r.generate_ms / static_cast<double>(r.n_generated - 1));
  }
}

Result<SplitAnswer> generate_split(App& app, engine::Scheduler& sched, engine::GenerationRequest req,
                                   bool starts_in_think) {
  ThinkSplitter splitter(starts_in_think);
  SplitAnswer out;
  auto done = run_generation(sched, std::move(req), [&](const std::string& t) {
    auto [r, c] = splitter.push(t);
    out.reasoning += r;
    out.content += c;
    return true;
  });
  if (!done.is_ok()) return done.status();
  auto [r, c] = splitter.flush();
  out.reasoning += r;
  out.content += c;
  out.done = std::move(done).value();
  record_metrics(app, out.done);
  return out;
}

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(prefix) + buf;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace dkb::server
