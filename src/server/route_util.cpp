#include "route_util.h"

#include <chrono>
#include <cmath>
#include <climits>
#include <cstdlib>
#include <optional>

#include "base/utf8.h"

namespace dkb::server {

int http_status_for(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kResourceExhausted: return 503;
    case ErrorCode::kFailedPrecondition: return 503;
    case ErrorCode::kCancelled: return 499;
    case ErrorCode::kDeadlineExceeded: return 504;
    case ErrorCode::kUnimplemented: return 501;
    case ErrorCode::kCorruption:
    case ErrorCode::kIOError:
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

http::Response json_response(int status, const json& body) {
  return {status, "application/json",
          body.dump(-1, ' ', false, json::error_handler_t::replace), {}};
}

http::Response error_response(const Status& s, ErrorStyle style) {
  int status = http_status_for(s);
  http::Response r;
  if (style == ErrorStyle::kOllama) {
    r = json_response(status, {{"error", s.message()}});
  } else {
    const char* type = status == 401   ? "authentication_error"
                       : status == 403 ? "permission_error"
                       : status == 404 ? "not_found_error"
                       : status == 503 ? "server_busy"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    r = json_response(status, {{"error",
                                {{"message", s.message()},
                                 {"type", type},
                                 {"param", nullptr},
                                 {"code", std::string(error_code_name(s.code()))}}}});
  }
  if (status == 503) r.headers.push_back({"Retry-After", "1"});
  if (status == 401) r.headers.push_back({"WWW-Authenticate", "Bearer"});
  return r;
}

Result<json> parse_json_object(const http::Request& req) {
  if (req.body.empty()) return invalid_argument("the request body is empty; expected a JSON object");
  json j = json::parse(req.body, nullptr, false);
  if (j.is_discarded()) {
    // Re-parse with exceptions to get the position.
    try {
      json again = json::parse(req.body);
      (void)again;
    } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e400
      return invalid_argument(std::string("malformed JSON: ") + e.what());
    }
    return invalid_argument("malformed JSON");
  }
  if (!j.is_object()) return invalid_argument("the request body must be a JSON object");
  return j;
}

Result<double> get_number(const json& j, const char* key, double def, double lo, double hi) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number()) return invalid_argument(std::string("'") + key + "' must be a number");
  double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    return invalid_argument(std::string("'") + key + "' must be between " + std::to_string(lo) +
                            " and " + std::to_string(hi));
  }
  return v;
}

Result<int64_t> get_int(const json& j, const char* key, int64_t def, int64_t lo, int64_t hi) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_number_integer()) return invalid_argument(std::string("'") + key + "' must be an integer");
  int64_t v = it->get<int64_t>();
  if (v < lo || v > hi) {
    return invalid_argument(std::string("'") + key + "' must be between " + std::to_string(lo) +
                            " and " + std::to_string(hi));
  }
  return v;
}

Result<bool> get_bool(const json& j, const char* key, bool def) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  if (!it->is_boolean()) return invalid_argument(std::string("'") + key + "' must be a boolean");
  return it->get<bool>();
}

Result<std::vector<std::string>> get_stop(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  if (it->is_string()) {
    out.push_back(it->get<std::string>());
  } else if (it->is_array()) {
    for (const auto& s : *it) {
      if (!s.is_string()) return invalid_argument(std::string("'") + key + "' must contain strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    return invalid_argument(std::string("'") + key + "' must be a string or an array of strings");
  }
  if (out.size() > 16) return invalid_argument(std::string("'") + key + "' allows at most 16 strings");
  for (const auto& s : out) {
    if (s.empty()) return invalid_argument(std::string("'") + key + "' must not contain empty strings");
  }
  return out;
}

Status check_api_key(const AppOptions& opt, const http::Request& req) {
  if (opt.api_keys.empty()) return Status::ok();
  std::string key = req.header("x-api-key");
  if (key.empty()) key = req.header("x-chroma-token");  // the chromadb clients' token header
  std::string auth = req.header("authorization");
  if (key.empty() && auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0)) {
    key = auth.substr(7);
  }
  if (key.empty()) {
    return {ErrorCode::kUnauthenticated, "missing API key: send 'Authorization: Bearer <key>'"};
  }
  for (const auto& k : opt.api_keys) {
    // Constant-time comparison.
    if (k.size() != key.size()) continue;
    unsigned diff = 0;
    for (size_t i = 0; i < k.size(); ++i) diff |= static_cast<unsigned>(k[i] ^ key[i]);
    if (diff == 0) return Status::ok();
  }
  return {ErrorCode::kUnauthenticated, "invalid API key"};
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

std::string sanitize_utf8(const std::string& s) {
  if (utf8::is_valid(s)) return s;
  std::string out;
  size_t i = 0;
  while (i < s.size()) utf8::append(out, utf8::decode(s, i));
  return out;
}

void EventChannel::push(engine::GenerationEvent&& ev) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    q_.push_back(std::move(ev));
  }
  cv_.notify_one();
}

engine::GenerationEvent EventChannel::pop() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !q_.empty(); });
  engine::GenerationEvent ev = std::move(q_.front());
  q_.pop_front();
  return ev;
}

namespace {
thread_local http::Responder* t_responder = nullptr;
}  // namespace

ResponderScope::ResponderScope(http::Responder* r) : previous_(t_responder) { t_responder = r; }
ResponderScope::~ResponderScope() { t_responder = previous_; }
bool current_client_gone() { return t_responder && t_responder->client_gone(); }

bool EventChannel::pop_for(engine::GenerationEvent* out, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return !q_.empty(); })) return false;
  *out = std::move(q_.front());
  q_.pop_front();
  return true;
}

Result<engine::GenerationEvent> run_generation(
    engine::Scheduler& sched, engine::GenerationRequest req,
    const std::function<bool(const std::string&)>& on_text,
    const std::function<void(const std::vector<engine::TokenLogprob>&)>& on_logprobs,
    const std::function<bool()>& client_gone) {
  auto ch = std::make_shared<EventChannel>();
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  req.cancel = cancel;
  req.on_event = [ch](engine::GenerationEvent&& ev) { ch->push(std::move(ev)); };
  DKB_RETURN_IF_ERROR(sched.submit(std::move(req)));
  for (;;) {
    engine::GenerationEvent ev;
    if (!ch->pop_for(&ev, 20)) {
      bool gone = client_gone ? client_gone() : current_client_gone();
      if (gone && !cancel->load()) cancel->store(true);
      continue;
    }
    switch (ev.kind) {
      case engine::GenerationEvent::Kind::kText:
        if (on_logprobs && !ev.logprobs.empty()) on_logprobs(ev.logprobs);
        if (!cancel->load() && on_text && !on_text(ev.text)) cancel->store(true);
        break;
      case engine::GenerationEvent::Kind::kDone:
        return ev;
      case engine::GenerationEvent::Kind::kError:
        return ev.error;
    }
  }
}

std::vector<Result<engine::GenerationEvent>> run_generations(engine::Scheduler& sched,
                                                             std::vector<engine::GenerationRequest> reqs) {
  struct Tagged {
    size_t i;
    engine::GenerationEvent ev;
  };
  struct Channel {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Tagged> q;
  };
  auto ch = std::make_shared<Channel>();
  std::vector<std::optional<Result<engine::GenerationEvent>>> out(reqs.size());
  size_t pending = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    reqs[i].cancel = std::make_shared<std::atomic<bool>>(false);
    reqs[i].on_event = [ch, i](engine::GenerationEvent&& ev) {
      if (ev.kind == engine::GenerationEvent::Kind::kText) return;  // the final event has the text
      std::lock_guard<std::mutex> lock(ch->mu);
      ch->q.push_back({i, std::move(ev)});
      ch->cv.notify_one();
    };
    Status s = sched.submit(std::move(reqs[i]));
    if (s.is_ok()) ++pending;
    else out[i].emplace(s);
  }
  while (pending > 0) {
    std::unique_lock<std::mutex> lock(ch->mu);
    ch->cv.wait(lock, [&] { return !ch->q.empty(); });
    Tagged t = std::move(ch->q.front());
    ch->q.pop_front();
    lock.unlock();
    if (t.ev.kind == engine::GenerationEvent::Kind::kDone) out[t.i].emplace(std::move(t.ev));
    else out[t.i].emplace(t.ev.error);
    --pending;
  }
  std::vector<Result<engine::GenerationEvent>> results;
  for (auto& o : out) results.push_back(std::move(*o));
  return results;
}

json chat_logprobs_json(const tokenizer::Tokenizer& tok, const std::vector<engine::TokenLogprob>& lps) {
  auto entry = [&](int32_t id, float lp) {
    std::string piece = tok.token_to_piece(id);
    std::vector<int> bytes(piece.begin(), piece.end());
    for (int& b : bytes) b &= 0xFF;
    return json{{"token", sanitize_utf8(piece)}, {"logprob", lp}, {"bytes", bytes}};
  };
  json content = json::array();
  for (const auto& t : lps) {
    json e = entry(t.token, t.logprob);
    json top = json::array();
    for (const auto& [id, lp] : t.top) top.push_back(entry(id, lp));
    e["top_logprobs"] = top;
    content.push_back(std::move(e));
  }
  return content;
}

namespace {
constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

// Bytes at the end of s that could begin tag.
size_t partial_tag(const std::string& s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
    if (s.compare(s.size() - n, n, tag.data(), n) == 0) return n;
  }
  return 0;
}
}  // namespace

std::pair<std::string, std::string> ThinkSplitter::push(const std::string& text) {
  buf_ += text;
  std::string reasoning, content;
  for (;;) {
    if (state_ == kStart) {
      // Skip leading whitespace; "<think>" opens reasoning, anything else is content.
      size_t ws = buf_.find_first_not_of(" \t\r\n");
      if (ws == std::string::npos) return {reasoning, content};
      std::string_view rest(buf_.data() + ws, buf_.size() - ws);
      if (rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest) return {reasoning, content};
      if (rest.substr(0, kOpen.size()) == kOpen) {
        buf_.erase(0, ws + kOpen.size());
        state_ = kThink;
      } else {
        state_ = kContent;
      }
      continue;
    }
    if (state_ == kThink) {
      size_t at = buf_.find(kClose);
      if (at != std::string::npos) {
        reasoning += buf_.substr(0, at);
        buf_.erase(0, at + kClose.size());
        // The answer conventionally follows after blank lines.
        size_t ws = buf_.find_first_not_of("\r\n");
        buf_.erase(0, ws == std::string::npos ? buf_.size() : ws);
        state_ = kContent;
        continue;
      }
      size_t hold = partial_tag(buf_, kClose);
      reasoning += buf_.substr(0, buf_.size() - hold);
      buf_.erase(0, buf_.size() - hold);
      return {reasoning, content};
    }
    content += buf_;
    buf_.clear();
    return {reasoning, content};
  }
}

std::pair<std::string, std::string> ThinkSplitter::flush() {
  std::string rest;
  rest.swap(buf_);
  if (state_ == kThink) return {rest, ""};
  return {"", rest};
}

Status read_sampling(const json& body, engine::GenerateParams& gp, int32_t default_max_tokens) {
  DKB_ASSIGN_OR_RETURN(double temp, get_number(body, "temperature", 0.8, 0, 2));
  DKB_ASSIGN_OR_RETURN(double top_p, get_number(body, "top_p", 0.95, 0, 1));
  DKB_ASSIGN_OR_RETURN(double min_p, get_number(body, "min_p", 0.05, 0, 1));
  DKB_ASSIGN_OR_RETURN(int64_t top_k, get_int(body, "top_k", 40, 0, 1 << 20));
  DKB_ASSIGN_OR_RETURN(double fp, get_number(body, "frequency_penalty", 0, -2, 2));
  DKB_ASSIGN_OR_RETURN(double pp, get_number(body, "presence_penalty", 0, -2, 2));
  DKB_ASSIGN_OR_RETURN(double rp, get_number(body, "repeat_penalty", 1.0, 0.01, 10));
  DKB_ASSIGN_OR_RETURN(int64_t seed, get_int(body, "seed", -1, -1, (int64_t{1} << 62)));
  int64_t max_tokens = default_max_tokens;
  DKB_ASSIGN_OR_RETURN(max_tokens, get_int(body, "max_tokens", max_tokens, 1, 1 << 20));
  DKB_ASSIGN_OR_RETURN(max_tokens, get_int(body, "max_completion_tokens", max_tokens, 1, 1 << 20));
  DKB_ASSIGN_OR_RETURN(gp.stop, get_stop(body, "stop"));
  if (auto lb = body.find("logit_bias"); lb != body.end() && !lb->is_null()) {
    // OpenAI: {"token id": bias in [-100, 100]}; the ids are checked against the model's
    // vocabulary by Scheduler::submit.
    if (!lb->is_object() || lb->size() > 1024) {
      return invalid_argument("'logit_bias' must be an object of at most 1024 {\"token id\": bias} entries");
    }
    for (const auto& [k, v] : lb->items()) {
      char* end = nullptr;
      long long id = std::strtoll(k.c_str(), &end, 10);
      if (k.empty() || *end != '\0' || id < 0 || id > INT32_MAX) {
        return invalid_argument("'logit_bias' key '" + k + "' is not a token id");
      }
      if (!v.is_number() || std::fabs(v.get<double>()) > 100) {
        return invalid_argument("'logit_bias' of token " + k + " must be a number in [-100, 100]");
      }
      gp.sampling.logit_bias.emplace_back(static_cast<int32_t>(id), v.get<float>());
    }
  }
  gp.sampling.temperature = static_cast<float>(temp);
  gp.sampling.top_p = top_p <= 0 ? 1e-6f : static_cast<float>(top_p);
  gp.sampling.min_p = static_cast<float>(min_p);
  gp.sampling.top_k = static_cast<int32_t>(top_k);
  gp.sampling.frequency_penalty = static_cast<float>(fp);
  gp.sampling.presence_penalty = static_cast<float>(pp);
  gp.sampling.repeat_penalty = static_cast<float>(rp);
  if (seed >= 0) gp.sampling.seed = static_cast<uint64_t>(seed);
  gp.max_tokens = static_cast<int32_t>(max_tokens);
  return Status::ok();
}

}  // namespace dkb::server
