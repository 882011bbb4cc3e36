// The simple API: POST /v1/chat {prompt, temperature (0–1), max_tokens (default 512)}
// → {"choices":[{"text": ...}], "usage": ...}. The prompt is sent as one user message
// through the model's chat template.
#include "generation_util.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {

void handle_simple_chat(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto p = body->find("prompt");
  if (p == body->end() || !p->is_string()) {
    return resp.respond(error_response(invalid_argument("'prompt' is required and must be a string")));
  }
  const std::string prompt = p->get<std::string>();
  if (prompt.empty()) return resp.respond(error_response(invalid_argument("'prompt' is empty")));
  const size_t limit = app.options().max_prompt_chars;
  if (prompt.size() > limit) {
    return resp.respond(error_response(invalid_argument(
        "'prompt' is " + std::to_string(prompt.size()) + " bytes; the limit is " + std::to_string(limit))));
  }
  auto model = chat_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status()));
  ModelEntry& m = **model;
  engine::GenerationRequest gr;
  auto temp = get_number(*body, "temperature", 0.7, 0, 1);
  if (!temp.is_ok()) return resp.respond(error_response(temp.status()));
  Status s = read_sampling(*body, gr.params, app.options().default_max_tokens);
  if (!s.is_ok()) return resp.respond(error_response(s));
  gr.params.sampling.temperature = static_cast<float>(*temp);
  json messages = json::array({{{"role", "user"}, {"content", prompt}}});
  auto rendered = render_chat(m, messages);
  if (!rendered.is_ok()) return resp.respond(error_response(rendered.status()));
  gr.prompt = std::move(rendered->tokens);
  auto split = generate_split(app, *m.scheduler, std::move(gr), rendered->starts_in_think);
  if (!split.is_ok()) return resp.respond(error_response(split.status()));
  const std::string& reasoning = split->reasoning;
  const std::string& content = split->content;
  const engine::GenerationEvent* done = &split->done;
  json choice = {{"index", 0}, {"text", sanitize_utf8(content)},
                 {"finish_reason", engine::finish_reason_name(done->result.finish)}};
  if (!reasoning.empty()) choice["reasoning_content"] = sanitize_utf8(reasoning);
  resp.respond(json_response(200, {{"id", random_id("chat-")},
                                   {"object", "chat"},
                                   {"created", unix_now()},
                                   {"model", m.name},
                                   {"choices", json::array({choice})},
                                   {"usage", usage_json(*done)}}));
}

}  // namespace dkb::server
