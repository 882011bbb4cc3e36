// Boost.Beast WebSocket transport: one io_context per connection, run by the connection's
// thread, so reads, queued writes, close and posted work are serialised without locks;
// other threads only post into it.
#include "beast_websocket.h"

#include <deque>
#include <mutex>

#include "base/log.h"

namespace dkb::server::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Unsent output beyond which a client that does not read is disconnected.
constexpr size_t kMaxQueuedBytes = 16u << 20;

class BeastWsConnection : public WsConnection {
 public:
  explicit BeastWsConnection(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  bool send(std::string message) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || closing_) return false;
    net::post(ioc_, [this, m = std::move(message)]() mutable { enqueue(std::move(m)); });
    return true;
  }

  bool post(std::function<void()> fn) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    net::post(ioc_, [this, f = std::move(fn)] {
      if (!ended_) f();
    });
    return true;
  }

  void close(uint16_t code, std::string reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || closing_) return;
    closing_ = true;
    net::post(ioc_, [this, code, r = std::move(reason)]() mutable {
      close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), r);
      close_wanted_ = true;
      if (!writing_) start_close();
    });
  }

  // Completes the handshake on fd and serves the session until the connection ends.
  void run(tcp::socket::native_handle_type fd, tcp::socket::protocol_type proto,
           bhttp::request<bhttp::string_body>& upgrade, std::unique_ptr<WsSession> session) {
    session_ = std::move(session);
    beast::error_code ec;
    beast::get_lowest_layer(ws_).assign(proto, fd, ec);
    if (!ec) {
      ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
      ws_.set_option(websocket::stream_base::decorator(
          [](websocket::response_type& res) { res.set(bhttp::field::server, "deepkb"); }));
      ws_.read_message_max(max_message_bytes_);
      ws_.accept(upgrade, ec);
    }
    if (ec) {
      log::warn("websocket handshake failed: {}", ec.message());
    } else {
      read_next();
      ioc_.run();
    }
    end();
    session_.reset();  // breaks the session → connection reference cycle
    beast::get_lowest_layer(ws_).close(ec);
  }

 private:
  void read_next() {
    ws_.async_read(rbuf_, [this](beast::error_code ec, size_t) {
      if (ec) {
        if (ec != websocket::error::closed && ec != net::error::eof &&
            ec != net::error::operation_aborted) {
          log::debug("websocket read ended: {}", ec.message());
        }
        return end();
      }
      if (!ws_.got_text()) {
        rbuf_.consume(rbuf_.size());
        close(1003, "binary messages are not supported; send JSON text messages");
      } else {
        std::string msg = beast::buffers_to_string(rbuf_.data());
        rbuf_.consume(rbuf_.size());
        session_->on_message(std::move(msg));
      }
      if (!ended_) read_next();
    });
  }

  void enqueue(std::string m) {
    if (ended_ || write_failed_) return;
    out_bytes_ += m.size();
    outq_.push_back(std::move(m));
    if (out_bytes_ > kMaxQueuedBytes) {
      // The client is not reading: drop it rather than buffer without bound.
      log::warn("websocket client is not reading ({} bytes queued); disconnecting", out_bytes_);
      write_failed_ = true;
      beast::error_code ec;
      beast::get_lowest_layer(ws_).close(ec);
      return;
    }
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(outq_.front()), [this](beast::error_code ec, size_t) {
      out_bytes_ -= outq_.front().size();
      outq_.pop_front();
      if (ec) {
        writing_ = false;
        write_failed_ = true;
        return;
      }
      if (!outq_.empty() && !write_failed_) return write_next();
      writing_ = false;
      if (close_wanted_) start_close();
    });
  }

  void start_close() {
    if (close_started_ || ended_) return;
    close_started_ = true;
    // The pending read completes with websocket::error::closed once the peer answers.
    ws_.async_close(close_reason_, [](beast::error_code) {});
  }

  // The connection is over: no more posts, and the session hears it once.
  void end() {
    if (ended_) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    ended_ = true;
    if (session_) session_->on_close();
  }

  const size_t max_message_bytes_;
  net::io_context ioc_{1};
  websocket::stream<tcp::socket> ws_{ioc_};
  std::unique_ptr<WsSession> session_;
  beast::flat_buffer rbuf_;
  // Connection thread only:
  std::deque<std::string> outq_;
  size_t out_bytes_ = 0;
  bool writing_ = false;
  bool write_failed_ = false;
  bool close_wanted_ = false;
  bool close_started_ = false;
  bool ended_ = false;
  websocket::close_reason close_reason_;
  // Any thread:
  std::mutex mu_;
  bool closed_ = false;
  bool closing_ = false;
};

}  // namespace

void WsRegistry::add(const std::shared_ptr<WsConnection>& c) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(conns_, [](const auto& w) { return w.expired(); });
  conns_.push_back(c);
}

void WsRegistry::close_all(uint16_t code, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& w : conns_) {
    if (auto c = w.lock()) c->close(code, reason);
  }
}

void serve_websocket(tcp::socket& sock, bhttp::request<bhttp::string_body>& upgrade,
                     const Request& request, const WsAcceptor& acceptor, size_t max_message_bytes,
                     WsRegistry& registry) {
  auto conn = std::make_shared<BeastWsConnection>(max_message_bytes);
  Response reject{404, "application/json",
                  R"({"error":{"message":"no WebSocket endpoint here","type":"invalid_request_error"}})", {}};
  std::unique_ptr<WsSession> session;
  try {
    session = acceptor(request, conn, &reject);
  } catch (const std::exception& e) {
    log::error("websocket acceptor threw: {}", e.what());
    reject = {500, "application/json", R"({"error":{"message":"internal error","type":"server_error"}})", {}};
  }
  beast::error_code ec;
  if (!session) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reject.status), upgrade.version()};
    res.set(bhttp::field::server, "deepkb");
    res.set(bhttp::field::content_type, reject.content_type);
    for (auto& [k, v] : reject.headers) res.set(k, v);
    res.keep_alive(false);
    res.body() = std::move(reject.body);
    res.prepare_payload();
    bhttp::write(sock, res, ec);
    return;
  }
  auto proto = sock.local_endpoint(ec).protocol();
  if (ec) return;
  auto fd = sock.release(ec);
  if (ec) return;
  registry.add(conn);
  conn->run(fd, proto, upgrade, std::move(session));
}

}  // namespace dkb::server::http
