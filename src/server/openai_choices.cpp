#include "openai_choices.h"

#include <optional>

#include "generation_util.h"

namespace dkb::server {
namespace {

std::string sse(const json& j) {
  return "data: " + j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

// Runs the choices, writing chunks as on_event produces them; the stream opens with the
// first chunk so that a request that cannot start still gets a proper error status.
// Returns the final events, or null after answering with an error.
struct ChoiceStreamer {
  http::Responder& resp;
  http::Stream* stream = nullptr;

  bool write(const std::string& s) {
    if (!stream) stream = &resp.stream(200, "text/event-stream", {});
    return stream->write(s);
  }

  std::optional<std::vector<engine::GenerationEvent>> run(
      App& app, ModelEntry& m, const engine::GenerationRequest& gr, int n,
      const std::function<bool(size_t, const engine::GenerationEvent&)>& on_event) {
    auto results = run_generations_streaming(*m.scheduler, choice_requests(gr, n), on_event);
    std::vector<engine::GenerationEvent> evs;
    for (auto& r : results) {
      if (!r.is_ok()) {
        if (!stream) {
          resp.respond(error_response(r.status()));
        } else {
          write(sse(json::parse(error_response(r.status()).body)));
        }
        return std::nullopt;
      }
      record_metrics(app, *r);
      evs.push_back(std::move(r).value());
    }
    return evs;
  }
};

}  // namespace

std::vector<engine::GenerationRequest> choice_requests(const engine::GenerationRequest& gr, int n) {
  std::vector<engine::GenerationRequest> reqs;
  for (int i = 0; i < n; ++i) {
    engine::GenerationRequest r = gr;
    if (r.params.sampling.seed != 0xFFFFFFFFu) r.params.sampling.seed += static_cast<uint64_t>(i);
    reqs.push_back(std::move(r));
  }
  return reqs;
}

json summed_usage(const std::vector<engine::GenerationEvent>& evs) {
  json u = usage_json(evs[0]);
  int64_t completion = 0;
  for (const auto& e : evs) completion += e.result.n_generated;
  u["completion_tokens"] = completion;
  u["total_tokens"] = u["prompt_tokens"].get<int64_t>() + completion;
  return u;
}

void stream_chat_choices(App& app, ModelEntry& m, const engine::GenerationRequest& gr, int n,
                         bool starts_in_think, const ChunkHeader& h, bool include_usage,
                         const json& sources, http::Responder& resp) {
  auto chunk = [&](size_t i, const json& delta, const json& finish) {
    return json{{"id", h.id}, {"object", "chat.completion.chunk"}, {"created", h.created},
                {"model", h.model}, {"system_fingerprint", "deepkb"},
                {"choices", json::array({{{"index", i}, {"delta", delta}, {"logprobs", nullptr},
                                          {"finish_reason", finish}}})}};
  };
  std::vector<ThinkSplitter> splitters(static_cast<size_t>(n), ThinkSplitter(starts_in_think));
  ChoiceStreamer out{resp};
  auto send_parts = [&](size_t i, const std::pair<std::string, std::string>& rc) {
    bool ok = true;
    if (!rc.first.empty()) ok = out.write(sse(chunk(i, {{"reasoning_content", sanitize_utf8(rc.first)}, {"content", nullptr}}, nullptr)));
    if (ok && !rc.second.empty()) ok = out.write(sse(chunk(i, {{"content", sanitize_utf8(rc.second)}}, nullptr)));
    return ok;
  };
  auto open = [&] {
    for (int i = 0; i < n; ++i) {
      json c = chunk(static_cast<size_t>(i), {{"role", "assistant"}, {"content", ""}}, nullptr);
      if (i == 0 && !sources.is_null()) c["sources"] = sources;
      if (!out.write(sse(c))) return false;
    }
    return true;
  };
  auto evs = out.run(app, m, gr, n, [&](size_t i, const engine::GenerationEvent& ev) {
    if (!out.stream && !open()) return false;
    if (ev.kind == engine::GenerationEvent::Kind::kText) return send_parts(i, splitters[i].push(ev.text));
    if (!send_parts(i, splitters[i].flush())) return false;
    return out.write(sse(chunk(i, json::object(), engine::finish_reason_name(ev.result.finish))));
  });
  if (!evs) return;
  if (!out.stream) open();
  if (include_usage) {
    out.write(sse({{"id", h.id}, {"object", "chat.completion.chunk"}, {"created", h.created},
                   {"model", h.model}, {"choices", json::array()}, {"usage", summed_usage(*evs)}}));
  }
  out.write("data: [DONE]\n\n");
}

void stream_completion_choices(App& app, ModelEntry& m, const engine::GenerationRequest& gr, int n,
                               const ChunkHeader& h, bool include_usage, http::Responder& resp) {
  auto chunk = [&](size_t i, const std::string& text, const json& finish) {
    return json{{"id", h.id}, {"object", "text_completion"}, {"created", h.created}, {"model", h.model},
                {"choices", json::array({{{"text", text}, {"index", i}, {"logprobs", nullptr},
                                          {"finish_reason", finish}}})}};
  };
  ChoiceStreamer out{resp};
  auto evs = out.run(app, m, gr, n, [&](size_t i, const engine::GenerationEvent& ev) {
    if (ev.kind == engine::GenerationEvent::Kind::kText) return ev.text.empty() || out.write(sse(chunk(i, sanitize_utf8(ev.text), nullptr)));
    return out.write(sse(chunk(i, "", engine::finish_reason_name(ev.result.finish))));
  });
  if (!evs) return;
  if (include_usage) {
    json u = chunk(0, "", nullptr);
    u["choices"] = json::array();
    u["usage"] = summed_usage(*evs);
    out.write(sse(u));
  }
  out.write("data: [DONE]\n\n");
}

}  // namespace dkb::server
