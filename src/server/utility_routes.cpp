// llama-server's utility routes: POST /tokenize, /detokenize, /apply-template.
#include "base/utf8.h"
#include "generation_util.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {

void handle_tokenize(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto model = chat_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status()));
  auto c = body->find("content");
  if (c == body->end() || !c->is_string()) {
    return resp.respond(error_response(invalid_argument("'content' must be a string")));
  }
  auto add_special = get_bool(*body, "add_special", false);
  auto parse_special = get_bool(*body, "parse_special", true);
  auto with_pieces = get_bool(*body, "with_pieces", false);
  for (const Status& s : {add_special.status(), parse_special.status(), with_pieces.status()}) {
    if (!s.is_ok()) return resp.respond(error_response(s));
  }
  const auto& tok = (*model)->model->tokenizer();
  auto ids = tok.encode(c->get<std::string>(), {.add_special = *add_special, .parse_special = *parse_special});
  json tokens = json::array();
  for (int32_t id : ids) {
    if (!*with_pieces) {
      tokens.push_back(id);
      continue;
    }
    std::string piece = tok.token_to_piece(id, true);
    if (utf8::is_valid(piece)) {
      tokens.push_back({{"id", id}, {"piece", piece}});
    } else {  // a byte token: give its bytes, as llama-server does
      std::vector<int> bytes;
      for (unsigned char b : piece) bytes.push_back(b);
      tokens.push_back({{"id", id}, {"piece", bytes}});
    }
  }
  resp.respond(json_response(200, {{"tokens", tokens}}));
}

void handle_detokenize(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto model = chat_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status()));
  auto t = body->find("tokens");
  if (t == body->end() || !t->is_array()) return resp.respond(error_response(invalid_argument("'tokens' must be an array of token ids")));
  const auto& tok = (*model)->model->tokenizer();
  std::vector<int32_t> ids;
  for (const auto& v : *t) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= tok.n_vocab()) {
      return resp.respond(error_response(invalid_argument("'tokens' must hold ids in [0, " + std::to_string(tok.n_vocab()) + ")")));
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  resp.respond(json_response(200, {{"content", sanitize_utf8(tok.decode(ids))}}));
}

void handle_apply_template(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto model = chat_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status()));
  auto it = body->find("messages");
  if (it == body->end()) return resp.respond(error_response(invalid_argument("'messages' is required")));
  auto messages = normalize_messages(*it);
  if (!messages.is_ok()) return resp.respond(error_response(messages.status()));
  const auto& tok = (*model)->model->tokenizer();
  json ctx = {{"messages", *messages}, {"add_generation_prompt", body->value("add_generation_prompt", true)},
              {"bos_token", tok.bos() >= 0 ? std::string(tok.text(tok.bos())) : ""},
              {"eos_token", tok.eos() >= 0 ? std::string(tok.text(tok.eos())) : ""}};
  auto rendered = (*model)->chat_template->render(ctx);
  if (!rendered.is_ok()) return resp.respond(error_response(rendered.status().with_context("chat template")));
  resp.respond(json_response(200, {{"prompt", *rendered}}));
}

}  // namespace dkb::server
