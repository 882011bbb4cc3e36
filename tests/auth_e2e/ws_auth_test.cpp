// The /v1/ws WebSocket under authentication: the upgrade authenticates like any request
// (401 without or with a tampered credential, audited), and each chat request on the socket
// is authorized for the model as the socket's principal.
#include "auth_server.h"
#include "support/ws_client.h"

namespace dkb::test {
namespace {

json chat(const std::string& id) {
  return {{"type", "chat"}, {"id", id}, {"max_tokens", 4}, {"temperature", 0},
          {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}}};
}

TEST(AuthWebSocketTest, UpgradeAuthenticatesAndEachRequestIsAuthorized) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  AuthServer s({"--rate-limit", "0"});
  ASSERT_TRUE(s.server->ready()) << s.server->output();
  const std::string admin = s.login("admin", kAdminPassword);
  ASSERT_FALSE(admin.empty());
  ASSERT_EQ(s.call("POST", "/v1/admin/users", {{"username", "reader"}, {"password", "reader-password"},
                                               {"models", json::array()}}, admin).status, 201);
  const std::string reader = s.login("reader", "reader-password");
  ASSERT_FALSE(reader.empty());

  WsClient anonymous, tampered;
  EXPECT_FALSE(anonymous.connect(s.port(), "/v1/ws", ""));
  std::string bad = admin;
  bad.back() = bad.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(tampered.connect(s.port(), "/v1/ws", bad));
  std::map<std::string, std::string> upgrade = {{"Connection", "Upgrade"}, {"Upgrade", "websocket"},
                                                {"Sec-WebSocket-Version", "13"},
                                                {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  EXPECT_EQ(http_request(s.port(), "GET", "/v1/ws", "", upgrade).status, 401);

  // The admin chats over the socket.
  WsClient ok;
  ASSERT_TRUE(ok.connect(s.port(), "/v1/ws", admin));
  ok.send(chat("a"));
  json last;
  while (auto m = ok.recv()) {
    last = *m;
    if ((*m)["type"] != "delta") break;
  }
  EXPECT_EQ(last["type"], "done") << last.dump();

  // A user without model access may open the socket but each chat request is refused (403).
  WsClient no_model;
  ASSERT_TRUE(no_model.connect(s.port(), "/v1/ws", reader));
  no_model.send(chat("r"));
  auto refused = no_model.recv();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ((*refused)["type"], "error");
  EXPECT_EQ((*refused)["status"], 403) << refused->dump();

  // Refused upgrades are in the audit log, without the credential.
  auto audit = s.call("GET", "/v1/admin/audit?action=authenticate", nullptr, admin);
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_NE(audit.body.find("WebSocket upgrade"), std::string::npos) << audit.body.substr(0, 600);
  EXPECT_EQ(audit.body.find(bad), std::string::npos);
}

}  // namespace
}  // namespace dkb::test
