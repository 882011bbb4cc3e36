// Boost.Beast implementation of server/http_client.h.
// Boost 1.74 asio uses std::exchange without including <utility>.
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "server/http_client.h"

namespace dkb::server::http {
namespace {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
}  // namespace

Result<ClientResponse> request(const std::string& url, const std::string& method,
                               const std::string& target, const std::string& body,
                               const std::map<std::string, std::string>& headers,
                               const std::function<void(const std::string&)>& on_data) {
  const std::string prefix = "http://";
  if (url.rfind(prefix, 0) != 0) return invalid_argument("only http:// URLs are supported: '" + url + "'");
  std::string hostport = url.substr(prefix.size());
  while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
  size_t colon = hostport.rfind(':');
  std::string host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  std::string port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    tcp::socket sock(ioc);
    net::connect(sock, resolver.resolve(host, port));
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::user_agent, "deepkb-cli");
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    bhttp::write(sock, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(1ull << 32);
    bhttp::read_header(sock, buf, parser);
    ClientResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    char chunk[8192];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      beast::error_code ec;
      bhttp::read(sock, buf, parser, ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec) return io_error("reading the response from " + url + ": " + ec.message());
      std::string piece(chunk, sizeof chunk - parser.get().body().size);
      if (on_data && out.status < 300) on_data(piece);
      else out.body += piece;
    }
    beast::error_code ec;
    sock.shutdown(tcp::socket::shutdown_both, ec);
    return out;
  } catch (const std::exception& e) {
    return io_error("cannot reach deepkb at " + url + ": " + e.what());
  }
}

}  // namespace dkb::server::http
