// A blocking Boost.Beast WebSocket client for end-to-end tests of /v1/ws.
#pragma once

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace dkb::test {

class WsClient {
 public:
  // Connects and upgrades; false when the upgrade is refused.
  bool connect(int port, const std::string& target, const std::string& key) {
    ws_.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
    timeval tv{60, 0};  // a hung server fails the test instead of blocking it
    setsockopt(ws_.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ws_.set_option(boost::beast::websocket::stream_base::decorator([key](boost::beast::websocket::request_type& req) {
      if (!key.empty()) req.set(boost::beast::http::field::authorization, "Bearer " + key);
    }));
    boost::beast::error_code ec;
    ws_.handshake("127.0.0.1", target, ec);
    return !ec;
  }
  void send(const nlohmann::json& j) { send_raw(j.dump()); }
  void send_raw(const std::string& s, bool text = true) {
    ws_.text(text);
    ws_.write(boost::asio::buffer(s));
  }
  // Next message; null once the server closed the connection (close_code() says why).
  std::optional<nlohmann::json> recv() {
    boost::beast::flat_buffer buf;
    boost::beast::error_code ec;
    ws_.read(buf, ec);
    if (ec) return std::nullopt;
    EXPECT_TRUE(ws_.got_text());
    return nlohmann::json::parse(boost::beast::buffers_to_string(buf.data()));  // throws on invalid UTF-8
  }
  int close_code() const { return ws_.reason().code; }
  void close() {
    boost::beast::error_code ec;
    ws_.close(boost::beast::websocket::close_code::normal, ec);
  }

 private:
  boost::asio::io_context ioc_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_{ioc_};
};

}  // namespace dkb::test
