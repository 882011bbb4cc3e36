// POST /v1/kb/{kb}/ask — answers grounded in a knowledge base, with citations:
// retrieval → prompt with numbered sources (rag/prompt.h) → generation → [n] → chunk mapping.
#include <nlohmann/json.hpp>

#include "generation_util.h"
#include "rag_util.h"
#include "request_auth.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {

json source_json(const rag::Source& s) {
  std::string heading;
  for (const auto& h : s.hit.heading_path) heading += (heading.empty() ? "" : " > ") + h;
  json j = {{"n", s.n},         {"document", s.hit.document_id}, {"title", s.title},
          {"page", s.hit.page}, {"heading", heading},          {"chunk", s.hit.ordinal},
          {"score", s.hit.score}, {"text", s.hit.text}};
  if (s.reranked) j["retrieval_score"] = s.retrieval_score;
  return j;
}

Result<RagQuery> read_rag_fields(const json& obj) {
  RagQuery q;
  DKB_ASSIGN_OR_RETURN(q.top_k, get_int(obj, "top_k", 5, 1, 100));
  if (auto it = obj.find("search"); it != obj.end() && !it->is_null()) {
    if (!it->is_string()) return invalid_argument("'search' must be hybrid, vector or bm25");
    q.mode = it->get<std::string>();
  }
  if (q.mode != "hybrid" && q.mode != "vector" && q.mode != "bm25") {
    return invalid_argument("'search' must be hybrid, vector or bm25");
  }
  if (auto it = obj.find("filter"); it != obj.end() && !it->is_null()) {
    if (!it->is_object()) return invalid_argument("'filter' must be an object (a Chroma where filter)");
    q.filter = *it;
  }
  DKB_ASSIGN_OR_RETURN(q.rerank, get_bool(obj, "rerank", false));
  DKB_ASSIGN_OR_RETURN(q.rerank_candidates, get_int(obj, "rerank_candidates", 0, 0, 400));
  if (q.rerank_candidates != 0 && q.rerank_candidates < q.top_k) {
    return invalid_argument("'rerank_candidates' (" + std::to_string(q.rerank_candidates) +
                            ") must be at least top_k (" + std::to_string(q.top_k) + ")");
  }
  return q;
}

namespace {

std::string sse(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace

Result<RagPlan> prepare_rag(App& app, ModelEntry& m, const std::string& kb_name,
                            const RagQuery& q, const json& conversation, int64_t max_tokens) {
  if (!app.kb_store()) return failed_precondition("no knowledge base is configured (serve --data DIR)");
  // The caller may read kb_name, checked before the store is touched (search_kb checks again).
  DKB_RETURN_IF_ERROR(authorize(auth::Permission::kKbRead, auth::Resource::kb(kb_name)));
  DKB_RETURN_IF_ERROR(app.kb_store()->get_collection(kb_name).status());
  if (q.rerank && !app.reranker()) {
    return failed_precondition("'rerank' needs an embedding model (serve --embed-model)");
  }
  kb::SearchRequest sr;
  sr.text = q.text;
  sr.k = static_cast<size_t>(q.top_k);
  if (q.rerank) sr.k = static_cast<size_t>(q.rerank_candidates > 0 ? q.rerank_candidates : 4 * q.top_k);
  if (q.mode == "hybrid") sr.mode = kb::SearchMode::kHybrid;
  else if (q.mode == "vector") sr.mode = kb::SearchMode::kVector;
  else if (q.mode == "bm25") sr.mode = kb::SearchMode::kBm25;
  else return invalid_argument("'search' must be hybrid, vector or bm25");
  sr.where = q.filter;
  // Authorized inside search_kb before the store is touched (kb.read on kb_name).
  DKB_ASSIGN_OR_RETURN(kb::SearchResponse hits, app.search_kb(kb_name, sr));
  RagPlan plan;
  std::vector<rag::Source> candidates;
  for (const auto& h : hits.hits) {
    rag::Source s;
    s.hit = h;
    if (auto d = app.kb_store()->get_document(kb_name, h.document_id); d.is_ok()) s.title = d->title;
    candidates.push_back(std::move(s));
  }
  if (q.rerank && !candidates.empty()) {
    DKB_ASSIGN_OR_RETURN(candidates, rag::rerank(*app.reranker(), q.text, std::move(candidates),
                                                 static_cast<size_t>(q.top_k)));
  }
  plan.nothing_found = candidates.empty();
  if (plan.nothing_found) return plan;
  rag::PromptOptions po;
  po.n_ctx = m.scheduler->n_ctx();
  po.max_tokens = max_tokens > 0 ? max_tokens : 512;
  DKB_ASSIGN_OR_RETURN(plan.prompt, rag::build_prompt(conversation, candidates, m.model->tokenizer(),
                                                      *m.chat_template, po));
  plan.sources = json::array();
  for (const auto& s : plan.prompt.used) plan.sources.push_back(source_json(s));
  return plan;
}

json cited_sources(const RagPlan& plan, const std::string& answer) {
  json cited = json::array();
  for (int n : rag::cited_numbers(answer, plan.prompt.used.size())) {
    cited.push_back(source_json(plan.prompt.used[n - 1]));
  }
  return cited;
}

void handle_kb_ask(App& app, const std::string& kb_name, const http::Request& req,
                   http::Responder& resp) {
  auto body = parse_json_object(req);
  if (!body.is_ok()) return resp.respond(error_response(body.status()));
  auto q = body->find("question");
  if (q == body->end() || !q->is_string() || q->get<std::string>().find_first_not_of(" \t\r\n") == std::string::npos) {
    return resp.respond(error_response(invalid_argument("'question' must be a non-empty string")));
  }
  const std::string question = q->get<std::string>();
  auto rq = read_rag_fields(*body);
  auto stream = get_bool(*body, "stream", false);
  auto return_prompt = get_bool(*body, "return_prompt", false);
  for (const Status& s : {rq.status(), stream.status(), return_prompt.status()}) {
    if (!s.is_ok()) return resp.respond(error_response(s));
  }
  auto model = chat_model(app, *body);
  if (!model.is_ok()) return resp.respond(error_response(model.status()));
  ModelEntry& m = **model;
  engine::GenerationRequest gr;
  Status sampling = read_sampling(*body, gr.params, 512);
  if (!sampling.is_ok()) return resp.respond(error_response(sampling));

  rq->text = question;
  json conversation = json::array({{{"role", "user"}, {"content", question}}});
  auto plan = prepare_rag(app, m, kb_name, *rq, conversation, gr.params.max_tokens);
  if (!plan.is_ok()) return resp.respond(error_response(plan.status()));
  json usage_zero = {{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}};
  if (plan->nothing_found) {
    // Nothing relevant: say so rather than let the model invent an answer.
    return resp.respond(json_response(200, {{"answer", kNothingFound}, {"citations", json::array()},
                                            {"sources", json::array()}, {"sources_used", 0},
                                            {"sources_dropped", 0}, {"usage", usage_zero}}));
  }
  const rag::BuiltPrompt* built = &plan->prompt;
  const json& sources = plan->sources;
  gr.prompt = built->tokens;
  std::string rendered = built->rendered;
  const bool splitter_starts_in_think = ends_in_think(rendered);
  ThinkSplitter splitter(splitter_starts_in_think);

  auto finish = [&](const std::string& answer, const engine::GenerationEvent& done) {
    json out = {{"citations", cited_sources(*plan, answer)},
                {"sources_used", built->used.size()},
                {"sources_dropped", built->dropped.size()},
                {"usage", usage_json(done)},
                {"finish_reason", engine::finish_reason_name(done.result.finish)}};
    if (*return_prompt) out["prompt"] = rendered;
    return out;
  };

  if (!*stream) {
    auto split = generate_split(app, *m.scheduler, std::move(gr), splitter_starts_in_think);
    if (!split.is_ok()) return resp.respond(error_response(split.status()));
    const std::string& reasoning = split->reasoning;
    const std::string& answer = split->content;
    const engine::GenerationEvent* done = &split->done;
    json out = finish(answer, *done);
    out["answer"] = sanitize_utf8(answer);
    out["sources"] = sources;
    if (!reasoning.empty()) out["reasoning_content"] = sanitize_utf8(reasoning);
    return resp.respond(json_response(200, out));
  }
  // SSE: the numbered sources first (what [n] refers to), then answer deltas, then the
  // citations actually used and the usage.
  http::Stream& out = resp.stream(200, "text/event-stream", {});
  out.write(sse({{"sources", sources}, {"sources_used", built->used.size()},
                 {"sources_dropped", built->dropped.size()}}));
  std::string answer;
  auto done = run_generation(*m.scheduler, std::move(gr), [&](const std::string& t) {
    auto [r, c] = splitter.push(t);
    answer += c;
    json d = json::object();
    if (!r.empty()) d["reasoning_content"] = r;
    if (!c.empty()) d["answer"] = c;
    return d.empty() ? true : out.write(sse({{"delta", d}}));
  });
  if (!done.is_ok()) {
    out.write(sse(json::parse(error_response(done.status()).body)));
    return;
  }
  auto [r, c] = splitter.flush();
  answer += c;
  if (!r.empty() || !c.empty()) out.write(sse({{"delta", {{"reasoning_content", r}, {"answer", c}}}}));
  record_metrics(app, *done);
  out.write(sse(finish(answer, *done)));
  out.write("data: [DONE]\n\n");
}

}  // namespace dkb::server
