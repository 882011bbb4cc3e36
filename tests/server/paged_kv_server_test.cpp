// The real server with a KV pool far smaller than its concurrent load: requests wait for
// pages or preempt one another, and every answer still equals the same request run alone.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "support/fixtures.h"
#include "support/http_client.h"

namespace dkb::test {
namespace {

using nlohmann::json;

double metric(const std::string& body, const std::string& name) {
  const size_t p = body.find("\n" + name + " ");
  if (p == std::string::npos) return -1;
  return std::stod(body.substr(p + name.size() + 2));
}

TEST(PagedKvServer, ExhaustedPoolQueuesAndPreemptsWithoutChangingAnswers) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  // 96 positions = 6 pages of 16 for 4 parallel sequences that each grow to 3 pages.
  ServerProcess s(DKB_BINARY, {"-m", fixture_path("models/stories260K.gguf"), "--ctx-size", "96",
                               "--parallel", "4", "--response-cache-mb", "0", "--threads", "2",
                               "--no-warmup"});
  ASSERT_TRUE(s.ready()) << s.output();
  const char* prompts[] = {"Once upon a time", "Lily and Ben went to the park.", "The sun was",
                           "A big red ball"};
  auto request = [&](int i) {
    json body = {{"prompt", prompts[i % 4]}, {"temperature", 0}, {"max_tokens", 40}};
    auto r = http_request(s.port(), "POST", "/v1/completions", body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? json::parse(r.body) : json();
  };
  std::vector<json> concurrent(6);
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) threads.emplace_back([&, i] { concurrent[i] = request(i); });
  for (auto& t : threads) t.join();
  auto m = http_request(s.port(), "GET", "/metrics", "");
  ASSERT_EQ(m.status, 200);
  const std::string l = "{model=\"stories260K\"}";
  EXPECT_EQ(metric(m.body, "deepkb_kv_cache_pages_capacity" + l), 6) << m.body;
  EXPECT_EQ(metric(m.body, "deepkb_kv_cache_pages_used" + l), 0) << m.body;
  EXPECT_GT(metric(m.body, "deepkb_preemptions_total" + l), 0) << m.body;
  std::vector<json> solo;
  for (int i = 0; i < 4; ++i) solo.push_back(request(i));
  for (int i = 0; i < 6; ++i) {
    ASSERT_FALSE(concurrent[i].is_null());
    EXPECT_EQ(concurrent[i]["choices"][0]["text"], solo[i % 4]["choices"][0]["text"]) << "request " << i;
    EXPECT_EQ(concurrent[i]["usage"]["completion_tokens"], solo[i % 4]["usage"]["completion_tokens"]);
  }
  // One sequence can hold the whole pool but no more: a longer prompt is a 400 with both numbers.
  std::string big;
  for (int i = 0; i < 16; ++i) big += "Lily and Ben went to the park. ";
  auto r = http_request(s.port(), "POST", "/v1/completions", json({{"prompt", big}, {"max_tokens", 2}}).dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("96"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("tokens"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace dkb::test
