// OpenAI-compatible routes (also the DeepSeek API conventions): chat completions,
// completions, embeddings, models.
#include <optional>

#include <nlohmann/json.hpp>

#include "generation_util.h"
#include "openai_choices.h"
#include "rag_util.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

std::string sse(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

struct StreamOpts {
  bool stream = false;
  bool include_usage = false;
};

Result<StreamOpts> read_stream_opts(const json& body) {
  StreamOpts o;
  DKB_ASSIGN_OR_RETURN(o.stream, get_bool(body, "stream", false));
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return invalid_argument("'stream_options' must be an object");
    DKB_ASSIGN_OR_RETURN(o.include_usage, get_bool(*it, "include_usage", false));
  }
  return o;
}

// n: choices per request (1..16); streamed choices carry choices[].index.
Result<int> read_n(const json& body) {
  DKB_ASSIGN_OR_RETURN(int64_t n, get_int(body, "n", 1, 1, 16));
  return static_cast<int>(n);
}

// Runs the n choices of gr and returns their final events.
Result<std::vector<engine::GenerationEvent>> run_n(engine::Scheduler& sched, const engine::GenerationRequest& gr, int n) {
  std::vector<engine::GenerationEvent> out;
  for (auto& r : run_generations(sched, choice_requests(gr, n))) {
    if (!r.is_ok()) return r.status();
    out.push_back(std::move(r).value());
  }
  return out;
}

// Chat: logprobs (bool) + top_logprobs (0..20) → GenerateParams::logprobs.
Status read_chat_logprobs(const json& body, engine::GenerateParams& gp) {
  DKB_ASSIGN_OR_RETURN(bool on, get_bool(body, "logprobs", false));
  DKB_ASSIGN_OR_RETURN(int64_t top, get_int(body, "top_logprobs", 0, 0, 20));
  if (!on && body.contains("top_logprobs") && !body["top_logprobs"].is_null()) {
    return invalid_argument("'top_logprobs' requires 'logprobs': true");
  }
  gp.logprobs = on ? static_cast<int32_t>(top) : -1;
  return Status::ok();
}

// Completions: logprobs is an integer 0..5 (alternatives per token).
Status read_completion_logprobs(const json& body, engine::GenerateParams& gp) {
  auto it = body.find("logprobs");
  if (it == body.end() || it->is_null()) return Status::ok();
  if (it->is_boolean()) {
    gp.logprobs = it->get<bool>() ? 0 : -1;
    return Status::ok();
  }
  DKB_ASSIGN_OR_RETURN(int64_t k, get_int(body, "logprobs", -1, 0, 5));
  gp.logprobs = static_cast<int32_t>(k);
  return Status::ok();
}

// The search query for the last user turn. Multi-turn conversations are first rewritten by
// the model into a standalone question ("what about its price?" → "price of X"); the last
// user message is kept in the query too, so a weak rewrite cannot lose its words.
std::string standalone_query(ModelEntry& m, const json& messages) {
  std::string last;
  int user_turns = 0;
  for (const auto& msg : messages) {
    if (msg["role"] == "user") {
      last = msg["content"].get<std::string>();
      ++user_turns;
    }
  }
  if (user_turns <= 1) return last;
  std::string transcript;
  for (const auto& msg : messages) {
    if (msg["role"] == "system") continue;
    transcript += msg["role"].get<std::string>() + ": " + msg["content"].get<std::string>() + "\n";
  }
  json rewrite = json::array(
      {{{"role", "system"},
        {"content", "Rewrite the user's last question as one standalone search query that needs no "
                    "earlier context. Reply with the query only."}},
       {{"role", "user"}, {"content", "Conversation:\n" + transcript + "\nStandalone query:"}}});
  auto prompt = render_chat(m, rewrite);
  if (!prompt.is_ok()) return last;
  engine::GenerationRequest gr;
  gr.prompt = std::move(prompt->tokens);
  gr.params.max_tokens = 48;
  gr.params.sampling.temperature = 0;
  gr.params.stop = {"\n"};
  ThinkSplitter splitter(prompt->starts_in_think);
  std::string query;
  auto done = run_generation(*m.scheduler, std::move(gr), [&](const std::string& t) {
    query += splitter.push(t).second;
    return true;
  });
  if (!done.is_ok()) return last;
  query += splitter.flush().second;
  return query.empty() ? last : query + " " + last;
}

Result<RagQuery> read_kb_field(const json& kbf, const json& messages, ModelEntry& m, std::string* name) {
  if (!kbf.is_object()) return invalid_argument("'knowledge_base' must be an object");
  auto n = kbf.find("name");
  if (n == kbf.end() || !n->is_string()) return invalid_argument("'knowledge_base.name' must be a string");
  *name = n->get<std::string>();
  DKB_ASSIGN_OR_RETURN(RagQuery q, read_rag_fields(kbf));
  q.text = standalone_query(m, messages);
  if (q.text.empty()) return invalid_argument("the conversation has no user question to search for");
  return q;
}

// Legacy completions "logprobs": {tokens, token_logprobs, top_logprobs, text_offset}.
json completion_logprobs_json(const tokenizer::Tokenizer& tok, const std::vector<engine::TokenLogprob>& lps) {
  json tokens = json::array(), token_lp = json::array(), top = json::array(), offsets = json::array();
  size_t offset = 0;
  for (const auto& t : lps) {
    std::string piece = tok.token_to_piece(t.token);
    tokens.push_back(sanitize_utf8(piece));
    token_lp.push_back(t.logprob);
    json alts = json::object();
    for (const auto& [id, lp] : t.top) alts[sanitize_utf8(tok.token_to_piece(id))] = lp;
    top.push_back(alts);
    offsets.push_back(offset);
    offset += piece.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", token_lp}, {"top_logprobs", top}, {"text_offset", offsets}};
}

}  // namespace

void handle_chat_completions(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto model = chat_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status()));
  ModelEntry& m = **model;
  auto so = read_stream_opts(*body);
  if (!so.is_ok()) return resp.respond(error_response(so.status()));
  auto n_choices = read_n(*body);
  if (!n_choices.is_ok()) return resp.respond(error_response(n_choices.status()));
  auto it = body->find("messages");
  if (it == body->end()) return resp.respond(error_response(invalid_argument("'messages' is required")));
  auto messages = normalize_messages(*it);
  if (!messages.is_ok()) return resp.respond(error_response(messages.status()));
  engine::GenerationRequest gr;
  Status s = read_sampling(*body, gr.params, -1);
  if (s.is_ok()) s = read_chat_logprobs(*body, gr.params);
  if (!s.is_ok()) return resp.respond(error_response(s));
  // Chat with a knowledge base (extension field): retrieval, numbered sources, citations.
  std::optional<RagPlan> plan;
  if (auto kbf = body->find("knowledge_base"); kbf != body->end() && !kbf->is_null()) {
    std::string kb_name;
    auto rq = read_kb_field(*kbf, *messages, m, &kb_name);
    if (!rq.is_ok()) return resp.respond(error_response(rq.status()));
    auto p = prepare_rag(app, m, kb_name, *rq, *messages, gr.params.max_tokens);
    if (!p.is_ok()) return resp.respond(error_response(p.status()));
    plan = std::move(p).value();
  }
  auto prompt = render_chat(m, *messages);
  if (!prompt.is_ok()) return resp.respond(error_response(prompt.status()));
  gr.prompt = std::move(prompt->tokens);
  if (plan && !plan->nothing_found) {
    gr.prompt = plan->prompt.tokens;
    prompt->starts_in_think = ends_in_think(plan->prompt.rendered);
  }

  const std::string id = random_id("chatcmpl-");
  const int64_t created = unix_now();
  const std::string model_name = body->value("model", m.name);
  ThinkSplitter splitter(prompt->starts_in_think);

  if (plan && plan->nothing_found && !so->stream) {
    // Retrieval found nothing: say so instead of letting the model invent an answer.
    json msg = {{"role", "assistant"}, {"content", kNothingFound}};
    return resp.respond(json_response(
        200, {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model_name},
              {"choices", json::array({{{"index", 0}, {"message", msg}, {"logprobs", nullptr},
                                        {"finish_reason", "stop"}}})},
              {"usage", {{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}},
              {"citations", json::array()}, {"sources", json::array()}}));
  }
  if (plan && plan->nothing_found) {
    http::Stream& st = resp.stream(200, "text/event-stream", {});
    json c = {{"id", id}, {"object", "chat.completion.chunk"}, {"created", created}, {"model", model_name},
              {"choices", json::array({{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", kNothingFound}}},
                                        {"finish_reason", "stop"}}})},
              {"citations", json::array()}, {"sources", json::array()}};
    st.write(sse(c));
    st.write("data: [DONE]\n\n");
    return;
  }
  const bool gr_logprobs = gr.params.logprobs >= 0;
  if (*n_choices > 1 && so->stream) {
    if (gr_logprobs) return resp.respond(error_response(invalid_argument("'logprobs' cannot be streamed with 'n' greater than 1")));
    return stream_chat_choices(app, m, gr, *n_choices, prompt->starts_in_think, {id, created, model_name},
                               so->include_usage, plan ? plan->sources : json(nullptr), resp);
  }
  if (*n_choices > 1) {
    auto evs = run_n(*m.scheduler, gr, *n_choices);
    if (!evs.is_ok()) return resp.respond(error_response(evs.status()));
    json choices = json::array();
    for (size_t i = 0; i < evs->size(); ++i) {
      const auto& ev = (*evs)[i];
      record_metrics(app, ev);
      ThinkSplitter sp(prompt->starts_in_think);
      auto [r1, c1] = sp.push(ev.result.text);
      auto [r2, c2] = sp.flush();
      json msg = {{"role", "assistant"}, {"content", sanitize_utf8(c1 + c2)}};
      if (!(r1 + r2).empty()) msg["reasoning_content"] = sanitize_utf8(r1 + r2);
      choices.push_back({{"index", i}, {"message", msg},
                         {"logprobs", gr_logprobs ? json{{"content", chat_logprobs_json(m.model->tokenizer(), ev.result.logprobs)}} : json(nullptr)},
                         {"finish_reason", engine::finish_reason_name(ev.result.finish)}});
    }
    json out = {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model_name},
                {"choices", choices}, {"usage", summed_usage(*evs)}, {"system_fingerprint", "deepkb"}};
    if (plan) out["sources"] = plan->sources;
    return resp.respond(json_response(200, out));
  }
  if (!so->stream) {
    auto split = generate_split(app, *m.scheduler, std::move(gr), prompt->starts_in_think);
    if (!split.is_ok()) return resp.respond(error_response(split.status()));
    const std::string& reasoning = split->reasoning;
    const std::string& content = split->content;
    const engine::GenerationEvent* done = &split->done;
    json msg = {{"role", "assistant"}, {"content", sanitize_utf8(content)}};
    if (!reasoning.empty() || prompt->starts_in_think) msg["reasoning_content"] = sanitize_utf8(reasoning);
    json out = {{"id", id},
                {"object", "chat.completion"},
                {"created", created},
                {"model", model_name},
                {"choices", json::array({{{"index", 0},
                                          {"message", msg},
                                          {"logprobs", gr_logprobs ? json{{"content", chat_logprobs_json(m.model->tokenizer(), done->result.logprobs)}} : json(nullptr)},
                                          {"finish_reason", engine::finish_reason_name(done->result.finish)}}})},
                {"usage", usage_json(*done)},
                {"system_fingerprint", "deepkb"}};
    if (plan) {
      out["sources"] = plan->sources;
      out["citations"] = cited_sources(*plan, content);
    }
    return resp.respond(json_response(200, out));
  }

  // Streaming: validate and submit first so errors still get a proper status code.
  http::Stream* stream = nullptr;
  auto chunk = [&](const json& delta, const json& finish) {
    return json{{"id", id},
                {"object", "chat.completion.chunk"},
                {"created", created},
                {"model", model_name},
                {"system_fingerprint", "deepkb"},
                {"choices", json::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr},
                                          {"finish_reason", finish}}})}};
  };
  std::vector<engine::TokenLogprob> pending_lp;  // logprobs not yet sent
  auto send_parts = [&](const std::string& r, const std::string& c) {
    bool ok = true;
    // Per delta, as the non-streaming answer does for the whole text: bytes that form no
    // character become U+FFFD one per byte, so the deltas concatenate to that answer.
    if (!r.empty()) ok = stream->write(sse(chunk({{"reasoning_content", sanitize_utf8(r)}, {"content", nullptr}}, nullptr)));
    if (ok && (!c.empty() || !pending_lp.empty())) {
      json ch = chunk({{"content", sanitize_utf8(c)}}, nullptr);
      if (!pending_lp.empty()) {
        ch["choices"][0]["logprobs"] = {{"content", chat_logprobs_json(m.model->tokenizer(), pending_lp)}};
        pending_lp.clear();
      }
      ok = stream->write(sse(ch));
    }
    return ok;
  };
  std::string streamed_content;
  auto first_chunk = [&] {
    json c = chunk({{"role", "assistant"}, {"content", ""}}, nullptr);
    if (plan) c["sources"] = plan->sources;
    return c;
  };
  auto done = run_generation(*m.scheduler, std::move(gr), [&](const std::string& t) {
    if (!stream) {
      stream = &resp.stream(200, "text/event-stream", {});
      if (!stream->write(sse(first_chunk()))) return false;
    }
    auto [r, c] = splitter.push(t);
    streamed_content += c;
    return send_parts(r, c);
  }, [&](const std::vector<engine::TokenLogprob>& lps) {
    pending_lp.insert(pending_lp.end(), lps.begin(), lps.end());
  });
  if (!done.is_ok()) {
    if (!stream) return resp.respond(error_response(done.status()));
    stream->write(sse(json::parse(error_response(done.status()).body)));
    return;
  }
  record_metrics(app, *done);
  if (!stream) {
    stream = &resp.stream(200, "text/event-stream", {});
    stream->write(sse(first_chunk()));
  }
  auto [r, c] = splitter.flush();
  streamed_content += c;
  send_parts(r, c);
  json last = chunk(json::object(), engine::finish_reason_name(done->result.finish));
  if (plan) last["citations"] = cited_sources(*plan, streamed_content);
  stream->write(sse(last));
  if (so->include_usage) {
    stream->write(sse({{"id", id}, {"object", "chat.completion.chunk"}, {"created", created},
                       {"model", model_name}, {"choices", json::array()}, {"usage", usage_json(*done)}}));
  }
  stream->write("data: [DONE]\n\n");
}

void handle_completions(App& app, const http::Request& req, http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto model = chat_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status()));
  ModelEntry& m = **model;
  auto so = read_stream_opts(*body);
  if (!so.is_ok()) return resp.respond(error_response(so.status()));
  auto n_choices = read_n(*body);
  if (!n_choices.is_ok()) return resp.respond(error_response(n_choices.status()));
  engine::GenerationRequest gr;
  Status s = read_sampling(*body, gr.params, 16);  // OpenAI's default for completions
  if (s.is_ok()) s = read_completion_logprobs(*body, gr.params);
  if (!s.is_ok()) return resp.respond(error_response(s));
  auto p = body->find("prompt");
  if (p == body->end()) return resp.respond(error_response(invalid_argument("'prompt' is required")));
  if (p->is_string()) {
    gr.prompt = tokenize_prompt(m, p->get<std::string>());
  } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
    gr.prompt = tokenize_prompt(m, (*p)[0].get<std::string>());
  } else if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
    for (const auto& t : *p) {
      if (!t.is_number_integer()) return resp.respond(error_response(invalid_argument("'prompt' token arrays must hold integers")));
      int64_t id = t.get<int64_t>();
      if (id < 0 || id >= m.model->tokenizer().n_vocab()) {
        return resp.respond(error_response(invalid_argument("'prompt' token " + std::to_string(id) + " is outside the vocabulary")));
      }
      gr.prompt.push_back(static_cast<int32_t>(id));
    }
  } else {
    return resp.respond(error_response(invalid_argument("'prompt' must be a string, [string] or an array of token ids")));
  }
  const std::string id = random_id("cmpl-");
  const int64_t created = unix_now();
  const std::string model_name = body->value("model", m.name);
  auto chunk = [&](const std::string& text, const json& finish) {
    return json{{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model_name},
                {"choices", json::array({{{"text", text}, {"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}}})}};
  };
  const bool want_logprobs = gr.params.logprobs >= 0;
  if (*n_choices > 1 && so->stream) {
    if (want_logprobs) return resp.respond(error_response(invalid_argument("'logprobs' cannot be streamed with 'n' greater than 1")));
    return stream_completion_choices(app, m, gr, *n_choices, {id, created, model_name}, so->include_usage, resp);
  }
  if (*n_choices > 1) {
    auto evs = run_n(*m.scheduler, gr, *n_choices);
    if (!evs.is_ok()) return resp.respond(error_response(evs.status()));
    json out = chunk("", nullptr);
    out["choices"] = json::array();
    for (size_t i = 0; i < evs->size(); ++i) {
      const auto& ev = (*evs)[i];
      record_metrics(app, ev);
      out["choices"].push_back({{"text", sanitize_utf8(ev.result.text)}, {"index", i},
                                {"logprobs", want_logprobs ? completion_logprobs_json(m.model->tokenizer(), ev.result.logprobs) : json(nullptr)},
                                {"finish_reason", engine::finish_reason_name(ev.result.finish)}});
    }
    out["usage"] = summed_usage(*evs);
    return resp.respond(json_response(200, out));
  }
  if (!so->stream) {
    auto done = run_generation(*m.scheduler, std::move(gr), {});
    if (!done.is_ok()) return resp.respond(error_response(done.status()));
    record_metrics(app, *done);
    json out = chunk(sanitize_utf8(done->result.text), engine::finish_reason_name(done->result.finish));
    if (want_logprobs) out["choices"][0]["logprobs"] = completion_logprobs_json(m.model->tokenizer(), done->result.logprobs);
    out["usage"] = usage_json(*done);
    return resp.respond(json_response(200, out));
  }
  http::Stream* stream = nullptr;
  auto done = run_generation(*m.scheduler, std::move(gr), [&](const std::string& t) {
    if (!stream) stream = &resp.stream(200, "text/event-stream", {});
    return stream->write(sse(chunk(sanitize_utf8(t), nullptr)));
  });
  if (!done.is_ok() && !stream) return resp.respond(error_response(done.status()));
  if (!stream) stream = &resp.stream(200, "text/event-stream", {});
  if (!done.is_ok()) {
    stream->write(sse(json::parse(error_response(done.status()).body)));
    return;
  }
  record_metrics(app, *done);
  stream->write(sse(chunk("", engine::finish_reason_name(done->result.finish))));
  if (so->include_usage) {
    json u = chunk("", nullptr);
    u["choices"] = json::array();
    u["usage"] = usage_json(*done);
    stream->write(sse(u));
  }
  stream->write("data: [DONE]\n\n");
}

void handle_models(App& app, const http::Request&, http::Responder& resp) {
  json data = json::array();
  for (const auto& m : app.models()) {
    auto add = [&](const std::string& id) {
      data.push_back({{"id", id}, {"object", "model"}, {"created", m->created}, {"owned_by", "deepkb"},
                      {"meta", {{"arch", m->model->hparams().arch},
                                {"n_ctx", m->scheduler->n_ctx()},
                                {"n_vocab", m->model->hparams().n_vocab},
                                {"embedding", m->embedding}}}});
    };
    add(m->name);
    for (const auto& a : m->aliases) add(a);
  }
  resp.respond(json_response(200, {{"object", "list"}, {"data", data}}));
}

}  // namespace dkb::server
