// Internal to server/http/: serves one WebSocket connection (Boost.Beast) on the calling
// connection thread, from the already-read upgrade request until the socket closes.
#pragma once

// Boost 1.74 asio uses std::exchange without including <utility>.
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <memory>
#include <mutex>
#include <vector>

#include "server/http.h"

namespace dkb::server::http {

// The open WebSocket connections, so a stopping server can close them (1001 going away).
class WsRegistry {
 public:
  void add(const std::shared_ptr<WsConnection>& c);
  void close_all(uint16_t code, const std::string& reason);

 private:
  std::mutex mu_;
  std::vector<std::weak_ptr<WsConnection>> conns_;
};

// Asks `acceptor` about the upgrade; answers with its rejection, or completes the handshake
// and runs the session. Takes over `sock` (closed on return). max_message_bytes bounds one
// incoming message (bigger ones are refused with close code 1009).
void serve_websocket(boost::asio::ip::tcp::socket& sock,
                     boost::beast::http::request<boost::beast::http::string_body>& upgrade,
                     const Request& request, const WsAcceptor& acceptor, size_t max_message_bytes,
                     WsRegistry& registry);

}  // namespace dkb::server::http
