// The /v1/ws session (protocol in ws_chat_session.h) and App's WebSocket entry points.
#include "ws_chat_session.h"

#include <cmath>
#include <map>
#include <optional>

#include "auth/permissions.h"
#include "base/log.h"
#include "generation_util.h"
#include "request_auth.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

constexpr size_t kMaxIdBytes = 256;
const char* const kRoute = "/v1/ws";

class WsChatSession : public http::WsSession {
 public:
  WsChatSession(App& app, std::shared_ptr<http::WsConnection> conn, std::optional<auth::Principal> who)
      : app_(app), conn_(std::move(conn)), who_(std::move(who)) {}

  void on_message(std::string message) override {
    json msg;
    try {
      msg = json::parse(message);
    } catch (const json::parse_error& e) {
      send_error(nullptr, invalid_argument(std::string("the message is not valid JSON: ") + e.what()));
      conn_->close(1007, "message is not valid JSON");
      return;
    }
    if (!msg.is_object()) return send_error(nullptr, invalid_argument("each message must be a JSON object"));
    json id = nullptr;
    if (auto it = msg.find("id"); it != msg.end()) id = *it;
    std::string type = "chat";
    if (auto it = msg.find("type"); it != msg.end()) {
      if (!it->is_string()) return send_error(id, invalid_argument("'type' must be a string"));
      type = it->get<std::string>();
    }
    if (type != "chat" && type != "cancel") {
      return send_error(id, invalid_argument("unknown message type '" + type + "' (expected chat or cancel)"));
    }
    if (!id.is_string() || id.get_ref<const std::string&>().empty() ||
        id.get_ref<const std::string&>().size() > kMaxIdBytes) {
      return send_error(id, invalid_argument("'id' must be a string of 1 to " + std::to_string(kMaxIdBytes) + " bytes"));
    }
    const std::string& key = id.get_ref<const std::string&>();
    if (type == "cancel") return cancel(key);
    Status s = start_chat(key, msg);
    app_.metrics().request(kRoute, s.is_ok() ? 200 : http_status_for(s));
    if (!s.is_ok()) send_error(id, s);
  }

  void on_close() override {
    for (auto& [id, r] : inflight_) r.cancel->store(true);
  }

 private:
  struct InFlight {
    std::shared_ptr<std::atomic<bool>> cancel;
    ThinkSplitter splitter;
    std::string model_name;
  };

  void cancel(const std::string& id) {
    auto it = inflight_.find(id);
    if (it == inflight_.end()) return send_error(id, not_found("no request with id '" + id + "' is in flight"));
    it->second.cancel->store(true);
  }

  Status start_chat(const std::string& id, const json& body) {
    if (inflight_.count(id)) return already_exists("a request with id '" + id + "' is already in flight");
    if (inflight_.size() >= kMaxWsRequestsInFlight) {
      return resource_exhausted("at most " + std::to_string(kMaxWsRequestsInFlight) +
                                " requests may be in flight on one socket");
    }
    DKB_ASSIGN_OR_RETURN(ModelEntry * m, chat_model(app_, body));
    if (who_) {
      // The socket's principal, authenticated at the upgrade: each request is checked and
      // rate-limited like an HTTP request.
      DKB_RETURN_IF_ERROR(auth::authorize(*who_, auth::Permission::kModelChat, auth::Resource::model(m->name)));
      if (auto d = app_.auth()->admit(*who_); !d.allowed) {
        return resource_exhausted("rate limit exceeded; retry in " +
                                  std::to_string(static_cast<int64_t>(std::ceil(d.retry_after_s))) + " s");
      }
    }
    DKB_ASSIGN_OR_RETURN(int64_t n, get_int(body, "n", 1, 1, 16));
    if (n != 1) return invalid_argument("'n' must be 1 over /v1/ws; send several requests instead");
    DKB_ASSIGN_OR_RETURN(bool lp, get_bool(body, "logprobs", false));
    if (lp) return invalid_argument("'logprobs' is not supported over /v1/ws; use POST /v1/chat/completions");
    if (auto kb = body.find("knowledge_base"); kb != body.end() && !kb->is_null()) {
      return invalid_argument("'knowledge_base' is not supported over /v1/ws; use POST /v1/chat/completions");
    }
    auto it = body.find("messages");
    if (it == body.end()) return invalid_argument("'messages' is required");
    DKB_ASSIGN_OR_RETURN(json messages, normalize_messages(*it));
    engine::GenerationRequest gr;
    DKB_RETURN_IF_ERROR(read_sampling(body, gr.params, -1));
    DKB_ASSIGN_OR_RETURN(RenderedPrompt prompt, render_chat(*m, messages));
    gr.prompt = std::move(prompt.tokens);
    gr.cancel = std::make_shared<std::atomic<bool>>(false);
    // Events arrive on the scheduler thread; hand them to this socket's thread.
    gr.on_event = [conn = conn_, this, id](engine::GenerationEvent&& ev) {
      conn->post([this, id, e = std::move(ev)]() mutable { on_event(id, std::move(e)); });
    };
    auto cancel = gr.cancel;
    auto model = body.find("model");
    std::string name = model != body.end() && model->is_string() ? model->get<std::string>() : m->name;
    inflight_.emplace(id, InFlight{cancel, ThinkSplitter(prompt.starts_in_think), std::move(name)});
    Status s = m->scheduler->submit(std::move(gr));
    if (!s.is_ok()) inflight_.erase(id);
    return s;
  }

  void on_event(const std::string& id, engine::GenerationEvent ev) {
    auto it = inflight_.find(id);
    if (it == inflight_.end()) return;
    InFlight& r = it->second;
    switch (ev.kind) {
      case engine::GenerationEvent::Kind::kText: {
        auto [reasoning, content] = r.splitter.push(ev.text);
        send_delta(id, reasoning, content);
        return;
      }
      case engine::GenerationEvent::Kind::kDone: {
        auto [reasoning, content] = r.splitter.flush();
        send_delta(id, reasoning, content);
        record_metrics(app_, ev);
        send({{"type", "done"}, {"id", id}, {"model", r.model_name},
              {"finish_reason", engine::finish_reason_name(ev.result.finish)}, {"usage", usage_json(ev)}});
        break;
      }
      case engine::GenerationEvent::Kind::kError:
        send_error(id, ev.error);
        break;
    }
    inflight_.erase(it);
  }

  void send_delta(const std::string& id, const std::string& reasoning, const std::string& content) {
    if (reasoning.empty() && content.empty()) return;
    // Bytes the model produced that form no character become U+FFFD, one per byte, exactly
    // as in the non-streaming answer (the engine never releases half of a valid character).
    json delta = json::object();
    if (!reasoning.empty()) delta["reasoning_content"] = sanitize_utf8(reasoning);
    if (!content.empty()) delta["content"] = sanitize_utf8(content);
    send({{"type", "delta"}, {"id", id}, {"delta", delta}});
  }

  void send_error(const json& id, const Status& s) {
    http::Response r = error_response(s);
    json body = json::parse(r.body, nullptr, false);
    send({{"type", "error"}, {"id", id}, {"status", r.status}, {"error", body["error"]}});
  }

  void send(const json& j) { conn_->send(j.dump(-1, ' ', false, json::error_handler_t::replace)); }

  App& app_;
  std::shared_ptr<http::WsConnection> conn_;
  std::map<std::string, InFlight> inflight_;
  std::optional<auth::Principal> who_;  // null without auth (serve --no-auth)
};

}  // namespace

std::unique_ptr<http::WsSession> make_ws_chat_session(App& app, std::shared_ptr<http::WsConnection> conn,
                                                     std::optional<auth::Principal> who) {
  return std::make_unique<WsChatSession>(app, std::move(conn), std::move(who));
}

std::unique_ptr<http::WsSession> App::accept_websocket(const http::Request& req,
                                                       std::shared_ptr<http::WsConnection> conn,
                                                       http::Response* reject) {
  std::optional<auth::Principal> who;
  Status s = req.path == kRoute ? Status::ok()
                                : not_found("no WebSocket endpoint at " + req.path + " (use " + kRoute + ")");
  if (s.is_ok() && !auth_) s = check_api_key(opt_, req);
  if (s.is_ok() && auth_) {
    // The same gate as App::handle: authenticate, then the caller's rate limit.
    auto r = auth_->authenticate(request_credential(req));
    if (r.is_ok() && !auth_->admit(*r).allowed) r = resource_exhausted("rate limit exceeded");
    if (r.is_ok()) {
      who = std::move(r).value();
    } else {
      s = r.status();
      auth::AuditEvent ev;
      ev.actor_kind = "anonymous";
      ev.action = "authenticate";
      ev.outcome = s.code() == ErrorCode::kResourceExhausted ? "rate_limited" : "denied";
      ev.status = s.code() == ErrorCode::kResourceExhausted ? 429 : 401;
      ev.remote = req.remote;
      ev.detail = "GET " + req.path + " (WebSocket upgrade): " + s.message();
      if (auto st = auth_->audit().append(std::move(ev)); !st.is_ok()) {
        log::error("audit log append failed: {}", st.status().to_string());
      }
    }
  }
  if (s.is_ok() && !ready()) s = failed_precondition("the server is still loading models");
  if (!s.is_ok()) {
    *reject = error_response(s);
    if (s.code() == ErrorCode::kResourceExhausted) reject->status = 429;
    metrics_.request(req.path == kRoute ? kRoute : "other", reject->status);
    return nullptr;
  }
  metrics_.request(kRoute, 101);
  return make_ws_chat_session(*this, std::move(conn), std::move(who));
}

void handle_ws_without_upgrade(App&, const http::Request&, http::Responder& resp) {
  http::Response r = error_response(invalid_argument(
      "/v1/ws is a WebSocket endpoint: send GET with 'Connection: Upgrade' and 'Upgrade: websocket'"));
  r.status = 426;
  r.headers.push_back({"Upgrade", "websocket"});
  resp.respond(r);
}

}  // namespace dkb::server
