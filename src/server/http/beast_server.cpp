// Boost.Beast implementation of server/http.h: synchronous I/O, one thread per connection,
// HTTP/1.1 keep-alive, chunked streaming.
// Boost 1.74 asio uses std::exchange without including <utility>.
#include <utility>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <thread>

#include "base/log.h"
#include "beast_websocket.h"
#include "server/http.h"

namespace dkb::server::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string url_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void parse_target(const std::string& target, Request& r) {
  size_t q = target.find('?');
  r.path = url_decode(target.substr(0, q), false);
  if (q == std::string::npos) return;
  std::string_view qs(target);
  qs.remove_prefix(q + 1);
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    size_t eq = kv.find('=');
    std::string k = url_decode(kv.substr(0, eq), true);
    std::string v = eq == std::string_view::npos ? "" : url_decode(kv.substr(eq + 1), true);
    if (!k.empty()) r.query[k] = v;
    if (amp == std::string_view::npos) break;
    qs.remove_prefix(amp + 1);
  }
}

class ConnResponder : public Responder, public Stream {
 public:
  ConnResponder(tcp::socket& sock, unsigned version, bool keep_alive)
      : sock_(sock), version_(version), keep_alive_(keep_alive) {}

  void respond(Response r) override {
    if (done_) return;
    done_ = true;
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version_};
    res.set(bhttp::field::server, "deepkb");
    res.set(bhttp::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive_);
    res.body() = std::move(r.body);
    res.prepare_payload();
    beast::error_code ec;
    bhttp::write(sock_, res, ec);
    if (ec) ok_ = false;
  }

  Stream& stream(int status, const std::string& content_type,
                 const std::vector<std::pair<std::string, std::string>>& headers) override {
    if (done_) return *this;
    done_ = true;
    streaming_ = true;
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(status), version_};
    res.set(bhttp::field::server, "deepkb");
    res.set(bhttp::field::content_type, content_type);
    res.set(bhttp::field::cache_control, "no-cache");
    for (auto& [k, v] : headers) res.set(k, v);
    res.keep_alive(keep_alive_);
    res.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    beast::error_code ec;
    bhttp::write_header(sock_, sr, ec);
    if (ec) ok_ = false;
    return *this;
  }

  bool client_gone() override {
    if (!ok_) return true;
    pollfd p{sock_.native_handle(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    // Readable: either a pipelined request (still connected) or EOF.
    char c;
    ssize_t n = ::recv(sock_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0;
  }

  bool write(std::string_view chunk) override {
    if (!ok_) return false;
    if (chunk.empty()) return true;
    beast::error_code ec;
    net::write(sock_, bhttp::make_chunk(net::const_buffer(chunk.data(), chunk.size())), ec);
    if (ec) ok_ = false;
    return ok_;
  }

  // Ends a stream (last chunk) or sends a 500 if the handler answered nothing.
  void finish() {
    if (!done_) {
      respond({500, "application/json", R"({"error":{"message":"no response","type":"server_error"}})", {}});
    } else if (streaming_ && ok_) {
      beast::error_code ec;
      net::write(sock_, bhttp::make_chunk_last(), ec);
      if (ec) ok_ = false;
    }
  }
  bool ok() const { return ok_; }

 private:
  tcp::socket& sock_;
  unsigned version_;
  bool keep_alive_;
  bool done_ = false;
  bool streaming_ = false;
  bool ok_ = true;
};

class BeastServer : public Server {
 public:
  ~BeastServer() override {
    stop_accepting();
    ws_registry_.close_all(1001, "the server is shutting down");
    // Connection threads are detached; wait for them so none outlives the handler.
    while (active_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }

  Status start(const ServerOptions& opt, Handler handler, WsAcceptor ws) override {
    opt_ = opt;
    handler_ = std::move(handler);
    ws_acceptor_ = std::move(ws);
    beast::error_code ec;
    auto addr = net::ip::make_address(opt.host, ec);
    if (ec) return invalid_argument("bad host address '" + opt.host + "': " + ec.message());
    tcp::endpoint ep{addr, opt.port};
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return io_error("cannot listen on " + opt.host + ":" + std::to_string(opt.port) + ": " +
                      ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
    return Status::ok();
  }

  uint16_t port() const override { return port_; }

  void stop_accepting() override {
    if (stopped_.exchange(true)) return;
    if (accept_thread_.joinable()) accept_thread_.join();
    beast::error_code ec;
    acceptor_.close(ec);
  }

  void close_websockets(uint16_t code, const std::string& reason) override {
    ws_registry_.close_all(code, reason);
  }

  int active_connections() const override { return active_.load(); }

 private:
  void accept_loop() {
    while (!stopped_.load()) {
      // Poll so stop_accepting() is noticed: closing a socket does not wake a blocked accept().
      pollfd p{acceptor_.native_handle(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      if (stopped_.load()) return;
      tcp::socket sock{ioc_};
      beast::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec) {
        if (stopped_.load()) return;
        continue;
      }
      if (active_.load() >= opt_.max_connections) {
        reject_busy(sock);
        continue;
      }
      active_.fetch_add(1);
      std::thread([this, s = std::move(sock)]() mutable {
        serve(s);
        active_.fetch_sub(1);
      }).detach();
    }
  }

  static void reject_busy(tcp::socket& sock) {
    bhttp::response<bhttp::string_body> res{bhttp::status::service_unavailable, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::retry_after, "1");
    res.body() = R"({"error":{"message":"too many connections","type":"server_busy"}})";
    res.keep_alive(false);
    res.prepare_payload();
    beast::error_code ec;
    bhttp::write(sock, res, ec);
    sock.shutdown(tcp::socket::shutdown_both, ec);
  }

  void serve(tcp::socket& sock) {
    beast::flat_buffer buf;
    beast::error_code ec;
    std::string remote;
    {
      auto ep = sock.remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(opt_.max_body_bytes);
      parser.header_limit(64 * 1024);
      bhttp::read(sock, buf, parser, ec);
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
          ec == net::error::connection_reset) {
        break;
      }
      if (ec) {
        int status = ec == bhttp::error::body_limit ? 413 : 400;
        std::string msg = ec == bhttp::error::body_limit
                              ? "request body exceeds " + std::to_string(opt_.max_body_bytes) + " bytes"
                              : "malformed HTTP request: " + ec.message();
        ConnResponder r(sock, 11, false);
        nlohmann_free_error(r, status, msg);
        break;
      }
      auto& req = parser.get();
      Request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      parse_target(r.target, r);
      for (const auto& f : req) r.headers[std::string(f.name_string())] = std::string(f.value());
      r.body = std::move(req.body());
      r.remote = remote;
      if (ws_acceptor_ && beast::websocket::is_upgrade(req)) {
        // The connection now belongs to the WebSocket session until it closes.
        serve_websocket(sock, req, r, ws_acceptor_, opt_.max_body_bytes, ws_registry_);
        return;
      }
      bool keep = req.keep_alive();
      ConnResponder resp(sock, req.version(), keep);
      try {
        handler_(r, resp);
      } catch (const std::exception& e) {
        log::error("handler threw: {}", e.what());
        resp.respond({500, "application/json",
                      R"({"error":{"message":"internal error","type":"server_error"}})", {}});
      }
      resp.finish();
      if (!keep || !resp.ok()) break;
    }
    sock.shutdown(tcp::socket::shutdown_both, ec);
  }

  static void nlohmann_free_error(ConnResponder& r, int status, const std::string& msg) {
    std::string escaped;
    for (char c : msg) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      if (static_cast<unsigned char>(c) >= 0x20) escaped.push_back(c);
    }
    r.respond({status, "application/json",
               "{\"error\":{\"message\":\"" + escaped + "\",\"type\":\"invalid_request_error\"}}",
               {}});
  }

  ServerOptions opt_;
  Handler handler_;
  WsAcceptor ws_acceptor_;
  WsRegistry ws_registry_;
  net::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::thread accept_thread_;
  std::atomic<bool> stopped_{false};
  std::atomic<int> active_{0};
  uint16_t port_ = 0;
};

}  // namespace

bool CaseLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

std::string Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::unique_ptr<Server> Server::create() { return std::make_unique<BeastServer>(); }

}  // namespace dkb::server::http
