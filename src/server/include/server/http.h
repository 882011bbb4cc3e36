// HTTP transport contract. Only server/http/ sees the HTTP library (Boost.Beast); routes see
// these plain types.
//
// Each connection is served by its own thread (bounded by max_connections; beyond it new
// connections get 503). A handler either answers with one Response or opens a stream
// (chunked transfer, used for SSE and NDJSON) and writes chunks until it ends; write()
// returns false once the client has gone, which is how a disconnect cancels work.
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
  virtual Status start(const ServerOptions& opt, Handler handler) = 0;
  virtual uint16_t port() const = 0;
  // Stops accepting new connections (in-flight handlers continue).
  virtual void stop_accepting() = 0;
  // Number of connections being served.
  virtual int active_connections() const = 0;
};

}  // namespace dkb::server::http
