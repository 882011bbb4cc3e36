// End-to-end: the /v1/ws WebSocket endpoint of the real deepkb binary, driven by a
// Boost.Beast WebSocket client (protocol in src/server/ws_chat_session.h).
#include <utility>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <map>
#include <thread>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/http_client.h"
#include "support/ws_client.h"

namespace dkb::test {
namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

const char* const kKey = "sk-ws";

struct Answer {
  std::string content, reasoning;
  json done;               // the "done" message (null if an error ended it)
  json error;              // the "error" message
  int deltas = 0;
  bool each_delta_valid = true;
};

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (int k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

// Reads messages until every id in `ids` has ended; answers by id.
std::map<std::string, Answer> collect(WsClient& c, std::vector<std::string> ids) {
  std::map<std::string, Answer> out;
  size_t open = ids.size();
  while (open > 0) {
    auto m = c.recv();
    if (!m) {
      ADD_FAILURE() << "connection closed early, code " << c.close_code();
      break;
    }
    Answer& a = out[(*m)["id"].get<std::string>()];
    const std::string type = (*m)["type"];
    if (type == "delta") {
      ++a.deltas;
      for (const char* f : {"content", "reasoning_content"}) {
        if (!(*m)["delta"].contains(f)) continue;
        std::string piece = (*m)["delta"][f];
        a.each_delta_valid &= valid_utf8(piece);
        (std::string(f) == "content" ? a.content : a.reasoning) += piece;
      }
    } else {
      if (type == "done") a.done = *m;
      else a.error = *m;
      --open;
    }
  }
  return out;
}

class WsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fixture_exists("models/stories260K.gguf") || !fixture_exists("models/tiny-qwen2-Q8_0.gguf")) return;
    server_ = new ServerProcess(DKB_BINARY, {"-m", fixture_path("models/stories260K.gguf"), "-m",
                                             fixture_path("models/tiny-qwen2-Q8_0.gguf"), "--api-key", kKey,
                                             "--ctx-size", "4096", "--parallel", "4", "--threads", "2"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
    DKB_REQUIRE_FIXTURE("models/tiny-qwen2-Q8_0.gguf");
    ASSERT_TRUE(server_ && server_->ready()) << (server_ ? server_->output() : "");
  }
  WsClient& connect() {
    client_ = std::make_unique<WsClient>();
    EXPECT_TRUE(client_->connect(server_->port(), "/v1/ws", kKey));
    return *client_;
  }
  // The same chat request answered by POST /v1/chat/completions without streaming.
  json http_chat(json body) {
    body.erase("id");
    body.erase("type");
    auto r = http_request(server_->port(), "POST", "/v1/chat/completions", body.dump(),
                          {{"Authorization", std::string("Bearer ") + kKey}});
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }
  static json chat(const std::string& id, const std::string& prompt, int max_tokens) {
    return {{"type", "chat"}, {"id", id}, {"model", "stories260K"}, {"temperature", 0},
            {"max_tokens", max_tokens}, {"messages", {{{"role", "user"}, {"content", prompt}}}}};
  }
  static ServerProcess* server_;
  std::unique_ptr<WsClient> client_;
};
ServerProcess* WsTest::server_ = nullptr;

TEST_F(WsTest, UpgradeNeedsTheApiKeyAndTheRightPath) {
  WsClient no_key, wrong_key, wrong_path;
  EXPECT_FALSE(no_key.connect(server_->port(), "/v1/ws", ""));
  EXPECT_FALSE(wrong_key.connect(server_->port(), "/v1/ws", "sk-wrong"));
  EXPECT_FALSE(wrong_path.connect(server_->port(), "/v1/websocket", kKey));
  // The refusals are HTTP answers with OpenAI's error body.
  std::map<std::string, std::string> upgrade = {{"Connection", "Upgrade"}, {"Upgrade", "websocket"},
                                                {"Sec-WebSocket-Version", "13"},
                                                {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
  auto r = http_request(server_->port(), "GET", "/v1/ws", "", upgrade);
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["type"], "authentication_error");
  upgrade["Authorization"] = std::string("Bearer ") + kKey;
  r = http_request(server_->port(), "GET", "/v1/websocket", "", upgrade);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_TRUE(json::parse(r.body)["error"]["message"].is_string());
  r = http_request(server_->port(), "GET", "/v1/ws", "", upgrade);
  EXPECT_EQ(r.status, 101);
  // Plain HTTP on the endpoint: 426 Upgrade Required.
  auto plain = http_request(server_->port(), "GET", "/v1/ws", "", {{"Authorization", std::string("Bearer ") + kKey}});
  EXPECT_EQ(plain.status, 426) << plain.body;
}

TEST_F(WsTest, DeltasConcatenateToTheNonStreamingAnswerWithUsage) {
  WsClient& c = connect();
  json req = chat("a", "Once upon a time", 40);
  c.send(req);
  auto got = collect(c, {"a"});
  const Answer& a = got["a"];
  ASSERT_FALSE(a.done.is_null()) << a.error.dump();
  json ref = http_chat(req);
  EXPECT_EQ(a.content, ref["choices"][0]["message"]["content"].get<std::string>());
  EXPECT_GT(a.deltas, 1);
  EXPECT_EQ(a.done["finish_reason"], ref["choices"][0]["finish_reason"]);
  EXPECT_EQ(a.done["usage"]["completion_tokens"], ref["usage"]["completion_tokens"]);
  EXPECT_EQ(a.done["usage"]["prompt_tokens"], ref["usage"]["prompt_tokens"]);
  EXPECT_EQ(a.done["model"], "stories260K");
  EXPECT_TRUE(a.done["usage"].contains("prompt_cache_hit_tokens"));
}

TEST_F(WsTest, TwoConcurrentRequestsOnOneSocket) {
  WsClient& c = connect();
  json x = chat("x", "Once upon a time", 48), y = chat("y", "Lily and Ben went to the park.", 24);
  c.send(x);
  c.send(y);
  auto got = collect(c, {"x", "y"});
  for (auto& [id, req] : std::map<std::string, json>{{"x", x}, {"y", y}}) {
    ASSERT_FALSE(got[id].done.is_null()) << id << ": " << got[id].error.dump();
    EXPECT_EQ(got[id].content, http_chat(req)["choices"][0]["message"]["content"].get<std::string>()) << id;
  }
}

TEST_F(WsTest, CancelStopsOneRequestAndTheSocketGoesOn) {
  WsClient& c = connect();
  // A random-weight model rarely stops by itself: only the cancel can end this early.
  json big = {{"id", "long"}, {"model", "tiny-qwen2-Q8_0"}, {"temperature", 0}, {"max_tokens", 3000},
              {"messages", {{{"role", "user"}, {"content", "Tell a long story"}}}}};
  c.send(big);
  auto first = c.recv();
  ASSERT_TRUE(first);
  ASSERT_EQ((*first)["type"], "delta") << first->dump();
  c.send({{"type", "cancel"}, {"id", "long"}});
  auto got = collect(c, {"long"});
  ASSERT_FALSE(got["long"].done.is_null()) << got["long"].error.dump();
  EXPECT_EQ(got["long"].done["finish_reason"], "cancelled");
  EXPECT_LT(got["long"].done["usage"]["completion_tokens"].get<int>(), 3000);
  // Cancelling what is no longer in flight is an error message; the socket stays usable.
  c.send({{"type", "cancel"}, {"id", "long"}});
  auto err = c.recv();
  ASSERT_TRUE(err);
  EXPECT_EQ((*err)["type"], "error");
  EXPECT_EQ((*err)["status"], 404);
  c.send(chat("next", "The sun was", 4));
  EXPECT_FALSE(collect(c, {"next"})["next"].done.is_null());
}

// CJK and emoji from a byte-fallback vocabulary: logit_bias restricts sampling to the byte
// tokens of 你 (E4 BD A0) and 😀 (F0 9F 98 80), so characters are assembled from up to four
// single-byte tokens and events often end inside one. No delta may carry half a character:
// a split one would become U+FFFD in the delta and differ from the non-streaming answer.
TEST_F(WsTest, CjkAndEmojiAreNeverSplit) {
  WsClient& c = connect();
  json bias = json::object();
  for (int byte : {0xE4, 0xBD, 0xA0, 0xF0, 0x9F, 0x98, 0x80}) bias[std::to_string(byte + 3)] = 100;  // <0xNN> = 3 + NN
  std::vector<json> reqs;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back("u" + std::to_string(i));
    reqs.push_back({{"id", ids.back()}, {"model", "tiny-qwen2-Q8_0"}, {"temperature", 1.0}, {"top_k", 0},
                    {"top_p", 1.0}, {"min_p", 0.0}, {"seed", 1 + i}, {"max_tokens", 150}, {"logit_bias", bias},
                    {"messages", {{{"role", "user"}, {"content", "你好，世界 🌍"}}}}});
    c.send(reqs.back());
  }
  auto got = collect(c, ids);
  std::string all;
  for (int i = 0; i < 4; ++i) {
    const Answer& a = got[ids[i]];
    ASSERT_FALSE(a.done.is_null()) << a.error.dump();
    EXPECT_TRUE(a.each_delta_valid) << ids[i];
    EXPECT_GT(a.deltas, 10) << ids[i];
    auto ref = http_chat(reqs[i]);
    const json& msg = ref["choices"][0]["message"];
    EXPECT_EQ(a.content, msg["content"].get<std::string>()) << ids[i];
    EXPECT_EQ(a.reasoning, msg.value("reasoning_content", "")) << ids[i];
    all += a.content + a.reasoning;
  }
  // Characters must actually have been generated, or the test proves nothing.
  size_t cjk = 0, four_byte = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(all[i]);
    if (ch == 0xE4) ++cjk;          // U+4000..U+4FFF (CJK)
    if ((ch >> 3) == 30) ++four_byte;  // U+10000 and up (emoji plane and beyond)
  }
  EXPECT_GT(cjk, 0u);
  EXPECT_GT(four_byte, 0u);
}

TEST_F(WsTest, MalformedMessagesGetErrorsAndKeepTheSocket) {
  WsClient& c = connect();
  auto expect_error = [&](const json& msg, int status, const std::string& what) {
    c.send(msg);
    auto r = c.recv();
    ASSERT_TRUE(r) << what;
    EXPECT_EQ((*r)["type"], "error") << what << ": " << r->dump();
    EXPECT_EQ((*r)["status"], status) << what << ": " << r->dump();
    EXPECT_TRUE((*r)["error"]["message"].is_string()) << what;
    EXPECT_TRUE((*r)["error"].contains("type") && (*r)["error"].contains("code")) << what;
  };
  json ok = chat("m", "The sun was", 4);
  expect_error(json::array({1, 2}), 400, "not an object");
  expect_error({{"messages", ok["messages"]}}, 400, "no id");
  expect_error({{"id", 7}, {"messages", ok["messages"]}}, 400, "numeric id");
  expect_error({{"id", "t"}, {"type", "bogus"}}, 400, "unknown type");
  expect_error({{"id", "t"}, {"messages", "hello"}}, 400, "messages not an array");
  expect_error({{"id", "t"}}, 400, "no messages");
  json bad = ok;
  bad["temperature"] = 5;
  expect_error(bad, 400, "temperature out of range");
  bad = ok;
  bad["max_tokens"] = -1;
  expect_error(bad, 400, "negative max_tokens");
  bad = ok;
  bad["model"] = "gpt-9";
  expect_error(bad, 404, "unknown model");
  bad = ok;
  bad["n"] = 2;
  expect_error(bad, 400, "n > 1");
  for (json lb : {json{{"abc", 1}}, json{{"9999", 1}}, json{{"5", 101}}, json{{"-1", 1}}, json::array()}) {
    bad = ok;
    bad["logit_bias"] = lb;
    expect_error(bad, 400, "logit_bias " + lb.dump());
  }
  expect_error({{"type", "cancel"}, {"id", "nothing"}}, 404, "cancel of an unknown id");
  // A duplicate id while the first is in flight is refused (409). The two frames are sent
  // back to back; if a loaded machine lets the first request finish before the second frame
  // is read, the duplicate is legitimately accepted, so try again (each attempt drains both).
  json first = chat("dup", "Once upon a time", 200);
  first["model"] = "tiny-qwen2-Q8_0";
  bool saw_conflict = false;
  for (int attempt = 0; attempt < 5 && !saw_conflict; ++attempt) {
    c.send(first);
    c.send(first);
    int finished = 0;
    while (finished < (saw_conflict ? 1 : 2)) {
      auto r = c.recv();
      ASSERT_TRUE(r);
      ASSERT_EQ((*r)["id"], "dup") << r->dump();
      if ((*r)["type"] == "error") {
        EXPECT_EQ((*r)["status"], 409) << r->dump();
        saw_conflict = true;
      }
      if ((*r)["type"] == "done") ++finished;
    }
  }
  EXPECT_TRUE(saw_conflict);
  // After all that, the socket still serves.
  c.send(ok);
  EXPECT_FALSE(collect(c, {"m"})["m"].done.is_null());
}

TEST_F(WsTest, BadFramesCloseWithTheRightCode) {
  {
    WsClient& c = connect();
    c.send_raw("{not json");
    auto err = c.recv();
    ASSERT_TRUE(err);
    EXPECT_EQ((*err)["type"], "error");
    EXPECT_EQ((*err)["status"], 400);
    EXPECT_FALSE(c.recv());
    EXPECT_EQ(c.close_code(), 1007);  // invalid frame payload data
  }
  {
    WsClient& c = connect();
    c.send_raw(std::string("{\"id\":\"\xff\xfe\"}"));  // invalid UTF-8 in a text frame
    EXPECT_FALSE(c.recv());
    EXPECT_EQ(c.close_code(), 1007);
  }
  {
    WsClient& c = connect();
    c.send_raw("{}", /*text=*/false);
    EXPECT_FALSE(c.recv());
    EXPECT_EQ(c.close_code(), 1003);  // unsupported data
  }
  // The server is unharmed.
  WsClient& c = connect();
  c.send(chat("after", "The sun was", 3));
  EXPECT_FALSE(collect(c, {"after"})["after"].done.is_null());
}

// SIGTERM with a client connected: the server drains, closes the socket with 1001 (going away)
// and exits 0 without waiting for the client to leave.
TEST(WsLifecycle, SigtermClosesOpenSocketsWith1001) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  ServerProcess server(DKB_BINARY, {"-m", fixture_path("models/stories260K.gguf"), "--threads", "1"});
  ASSERT_TRUE(server.ready()) << server.output();
  WsClient c;
  ASSERT_TRUE(c.connect(server.port(), "/v1/ws", ""));
  int code = 0;
  std::thread reader([&] {
    while (c.recv()) {
    }
    code = c.close_code();
  });
  EXPECT_EQ(server.terminate(), 0);
  reader.join();
  EXPECT_EQ(code, 1001);
}

}  // namespace
}  // namespace dkb::test
