// The HTTP transport itself (server/http.h) with a real socket client.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "server/http.h"
#include "support/http_client.h"

namespace dkb::server::http {
namespace {

int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  return fd;
}

TEST(HttpTransport, HandlerSeesClientDisconnect) {
  std::atomic<bool> saw_gone{false}, entered{false};
  auto server = Server::create();
  ASSERT_TRUE(server->start({"127.0.0.1", 0, 8, 1 << 20}, [&](const Request&, Responder& r) {
                  entered = true;
                  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
                  while (std::chrono::steady_clock::now() < deadline) {
                    if (r.client_gone()) {
                      saw_gone = true;
                      break;
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                  }
                  r.respond({200, "text/plain", "late", {}});
                }).is_ok());
  int fd = connect_to(server->port());
  std::string req = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}";
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  while (!entered) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  close(fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!saw_gone && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(saw_gone);
}

TEST(HttpTransport, ConnectedClientIsNotGoneAndMalformedRequestIs400) {
  std::atomic<int> gone_checks{0};
  auto server = Server::create();
  ASSERT_TRUE(server->start({"127.0.0.1", 0, 8, 64}, [&](const Request& q, Responder& r) {
                  if (r.client_gone()) ++gone_checks;
                  r.respond({200, "text/plain", q.path + "|" + q.query.at("a"), {}});
                }).is_ok());
  auto ok = dkb::test::http_request(server->port(), "GET", "/p%20q?a=1+2");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "/p q|1 2");
  EXPECT_EQ(gone_checks.load(), 0);
  auto big = dkb::test::http_request(server->port(), "POST", "/x", std::string(100, 'a'));
  EXPECT_EQ(big.status, 413);
  int fd = connect_to(server->port());
  std::string junk = "NOT HTTP AT ALL\r\n\r\n";
  ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  char buf[256] = {};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  ASSERT_GT(n, 0);
  EXPECT_NE(std::string(buf).find("400"), std::string::npos) << buf;
}

}  // namespace
}  // namespace dkb::server::http
