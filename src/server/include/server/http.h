// HTTP transport contract. Only server/http/ sees the HTTP library (Boost.Beast); routes see
// these plain types.
//
// Each connection is served by its own thread (bounded by max_connections; beyond it new
// connections get 503). A handler either answers with one Response or opens a stream
// (chunked transfer, used for SSE and NDJSON) and writes chunks until it ends; write()
// returns false once the client has gone, which is how a disconnect cancels work.
// WebSocket upgrades are handed to a WsAcceptor (below); the connection's thread then runs
// that socket's WebSocket session until it closes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dkb::server::http {

struct CaseLess {
  bool operator()(const std::string& a, const std::string& b) const;
};

struct Request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // raw target, e.g. "/v1/models?x=1"
  std::string path;     // decoded path without the query
  std::map<std::string, std::string> query;
  std::map<std::string, std::string, CaseLess> headers;
  std::string body;
  std::string remote;   // peer address
  std::string header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class Stream {
 public:
  virtual ~Stream() = default;
  // Sends one chunk; false when the client is gone (the caller should stop and cancel).
  virtual bool write(std::string_view chunk) = 0;
};

class Responder {
 public:
  virtual ~Responder() = default;
  virtual void respond(Response r) = 0;
  // Starts a chunked response; the returned stream is valid until the handler returns.
  virtual Stream& stream(int status, const std::string& content_type,
                         const std::vector<std::pair<std::string, std::string>>& headers) = 0;
  // True once the client has closed its end of the connection (checked without blocking),
  // so work for a client that went away can be cancelled before anything is written.
  virtual bool client_gone() { return false; }
};

using Handler = std::function<void(const Request&, Responder&)>;

// WebSocket (RFC 6455). The transport owns the socket and runs one thread per connection;
// the protocol side is a WsSession whose callbacks all run on that thread, one at a time.
//
// WsConnection: the transport side, shared (std::shared_ptr) so that work running elsewhere
// (a scheduler's event callback) can keep posting to it after the client has gone; all its
// methods are thread-safe and never block on the network.
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  // Queues one text message. False once the connection is closing or closed.
  virtual bool send(std::string message) = 0;
  // Runs fn on the connection's thread (serialised with the session's callbacks). Dropped
  // (never run) once the connection has closed; false then.
  virtual bool post(std::function<void()> fn) = 0;
  // Sends what is queued, then a close frame with code (1000 normal, 1003 unsupported data,
  // 1007 invalid payload, 1008 policy violation, 1011 internal error) and reason.
  virtual void close(uint16_t code, std::string reason) = 0;
};

class WsSession {
 public:
  virtual ~WsSession() = default;
  // One complete text message (valid UTF-8: the transport closes with 1007 otherwise;
  // binary messages are refused with 1003 before reaching the session).
  virtual void on_message(std::string message) = 0;
  // The connection ended (either side closed, or the network failed). Called once, last;
  // the session is destroyed right after.
  virtual void on_close() = 0;
};

// Decides on a WebSocket upgrade request: returns the session that will serve it, or null
// after filling *reject with the HTTP answer (401, 404, 503 ...) sent instead of the upgrade.
using WsAcceptor = std::function<std::unique_ptr<WsSession>(
    const Request& upgrade, std::shared_ptr<WsConnection> conn, Response* reject)>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;             // 0: pick a free port
  int max_connections = 256;
  size_t max_body_bytes = 32u << 20;
};

class Server {
 public:
  virtual ~Server() = default;
  static std::unique_ptr<Server> create();
  // Binds and starts accepting in the background. kIOError when the address is unusable.
  // Upgrade requests (GET with "Upgrade: websocket") go to ws when it is set, to handler
  // otherwise.
  virtual Status start(const ServerOptions& opt, Handler handler, WsAcceptor ws = {}) = 0;
  virtual uint16_t port() const = 0;
  // Stops accepting new connections (in-flight handlers continue).
  virtual void stop_accepting() = 0;
  // Closes every open WebSocket (after what is queued on it) with code and reason, e.g.
  // 1001 "going away" once a stopping server has drained its work.
  virtual void close_websockets(uint16_t code, const std::string& reason) = 0;
  // Number of connections being served.
  virtual int active_connections() const = 0;
};

}  // namespace dkb::server::http
