// Helpers shared by the route files: JSON bodies, the ErrorCode → HTTP mapping, auth, and
// the bridge from a scheduler's events (scheduler thread) to the connection thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "engine/scheduler.h"
#include "server/app.h"
#include "server/http.h"

namespace dkb::server {

using nlohmann::json;

// API families shape errors differently.
enum class ErrorStyle { kOpenAI, kOllama };

int http_status_for(const Status& s);
http::Response json_response(int status, const json& body);
http::Response error_response(const Status& s, ErrorStyle style = ErrorStyle::kOpenAI);

// Parses the body as a JSON object; kInvalidArgument with the parser's position otherwise.
Result<json> parse_json_object(const http::Request& req);

// Typed field access with precise errors ("'temperature' must be a number").
Result<double> get_number(const json& j, const char* key, double def, double lo, double hi);
Result<int64_t> get_int(const json& j, const char* key, int64_t def, int64_t lo, int64_t hi);
Result<bool> get_bool(const json& j, const char* key, bool def);
// "stop": string or array of strings (max 16).
Result<std::vector<std::string>> get_stop(const json& j, const char* key);

// kUnauthenticated unless the request carries one of the configured keys
// (Authorization: Bearer KEY, x-api-key: KEY or Chroma's x-chroma-token: KEY). No keys configured: always OK.
Status check_api_key(const AppOptions& opt, const http::Request& req);

// "/v1/kb/x/documents" → {"v1", "kb", "x", "documents"} (empty segments dropped).
std::vector<std::string> split_path(const std::string& path);

// Replaces invalid UTF-8 with U+FFFD so the text can go into JSON.
std::string sanitize_utf8(const std::string& s);

// Receives scheduler events on the scheduler thread, hands them to the waiting thread.
class EventChannel {
 public:
  void push(engine::GenerationEvent&& ev);
  engine::GenerationEvent pop();
  // Waits at most timeout_ms; false when nothing arrived.
  bool pop_for(engine::GenerationEvent* out, int timeout_ms);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<engine::GenerationEvent> q_;
};

// Runs a generation to completion on the calling thread, passing text to on_text as it
// arrives (returning false cancels). Returns the kDone event or the error.
// on_logprobs (optional) receives the tokens' logprobs of each event before its text.
// While waiting it polls client_gone every 20 ms and cancels the sequence once the client has
// disconnected; without an explicit client_gone it asks the responder that App::handle
// registered for the current thread (ResponderScope).
Result<engine::GenerationEvent> run_generation(
    engine::Scheduler& sched, engine::GenerationRequest req,
    const std::function<bool(const std::string&)>& on_text,
    const std::function<void(const std::vector<engine::TokenLogprob>&)>& on_logprobs = {},
    const std::function<bool()>& client_gone = {});

// Registers the responder serving the current thread's request (RAII), for disconnect checks.
class ResponderScope {
 public:
  explicit ResponderScope(http::Responder* r);
  ~ResponderScope();
  ResponderScope(const ResponderScope&) = delete;
  ResponderScope& operator=(const ResponderScope&) = delete;

 private:
  http::Responder* previous_;
};
// True when the current thread's client has gone away.
bool current_client_gone();

// Runs several requests concurrently (they share the scheduler's batches) and waits for all;
// results in request order. Used for OpenAI's n > 1.
std::vector<Result<engine::GenerationEvent>> run_generations(engine::Scheduler& sched,
                                                             std::vector<engine::GenerationRequest> reqs);

// Like run_generations, but streams: on_event(i, event) runs on the calling thread for every
// text and final (kDone) event of request i as it arrives; returning false cancels them all,
// as does the current thread's client going away. If a request cannot be submitted, the
// others are cancelled and on_event is not called at all.
std::vector<Result<engine::GenerationEvent>> run_generations_streaming(
    engine::Scheduler& sched, std::vector<engine::GenerationRequest> reqs,
    const std::function<bool(size_t, const engine::GenerationEvent&)>& on_event);

// OpenAI chat "logprobs.content" entries for tokens.
json chat_logprobs_json(const tokenizer::Tokenizer& tok, const std::vector<engine::TokenLogprob>& lps);

// Splits DeepSeek-R1 output into reasoning ("<think>…</think>") and answer text as it
// streams; holds back a partial tag.
class ThinkSplitter {
 public:
  // starts_in_think: the prompt already opened "<think>" (R1's generation prompt does).
  explicit ThinkSplitter(bool starts_in_think) : state_(starts_in_think ? kThink : kStart) {}
  // Appends text; returns {reasoning, content} that became final.
  std::pair<std::string, std::string> push(const std::string& text);
  std::pair<std::string, std::string> flush();

 private:
  enum State { kStart, kThink, kContent };
  State state_;
  std::string buf_;
};

// Sets the generation sampling fields from an OpenAI-style body.
Status read_sampling(const json& body, engine::GenerateParams& gp, int32_t default_max_tokens);

}  // namespace dkb::server
