// End-to-end: the vector index of the real deepkb binary — ANN search through the Chroma API
// agrees with exact search, filters apply inside it, a corrupt / truncated / stale index file
// is detected and rebuilt across restarts (including kill -9), and `deepkb kb verify|repair`
// report and fix it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "support/fixtures.h"
#include "support/http_client.h"

namespace dkb::test {
namespace {

using nlohmann::json;
const std::string kDb = "/api/v2/tenants/default_tenant/databases/default_database";
constexpr int kDim = 8;
constexpr int kN = 5000;  // above the index manager's exact-search threshold (4096)

class KbIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
    dir_ = (std::filesystem::temp_directory_path() / ("dkb_kbindex_" + std::to_string(getpid()))).string();
    std::filesystem::remove_all(dir_);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    vecs_.resize(kN);
    for (auto& v : vecs_) {
      v.resize(kDim);
      for (float& x : v) x = nd(rng);
    }
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start() {
    server_ = std::make_unique<ServerProcess>(
        DKB_BINARY, std::vector<std::string>{"--embed-model", fixture_path("models/tiny-bert-F16.gguf"),
                                             "--data", dir_, "--no-warmup", "--threads", "2"});
    ASSERT_TRUE(server_->ready()) << server_->output();
  }
  HttpResult post(const std::string& path, const json& body) {
    return http_request(server_->port(), "POST", path, body.dump());
  }
  std::string collection_id() {
    auto r = http_request(server_->port(), "GET", kDb + "/collections/vecs");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body).value("id", "");
  }
  // Chroma query → ids of the nearest records.
  std::vector<std::string> query(const std::vector<float>& q, int n, const json& where = nullptr) {
    json body = {{"query_embeddings", {q}}, {"n_results", n}};
    if (!where.is_null()) body["where"] = where;
    auto r = post(kDb + "/collections/" + collection_id() + "/query", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["ids"][0].get<std::vector<std::string>>();
  }
  std::set<std::string> exact(const std::vector<float>& q, int n, int group = -1) {
    std::vector<std::pair<float, int>> d;
    for (int i = 0; i < static_cast<int>(vecs_.size()); ++i) {
      if (group >= 0 && i % 10 != group) continue;
      float s = 0;
      for (int j = 0; j < kDim; ++j) s += (q[j] - vecs_[i][j]) * (q[j] - vecs_[i][j]);
      d.push_back({s, i});
    }
    std::sort(d.begin(), d.end());
    std::set<std::string> out;
    for (int i = 0; i < n && i < static_cast<int>(d.size()); ++i) out.insert("r" + std::to_string(d[i].second));
    return out;
  }
  double recall(int group = -1) {
    std::mt19937 rng(9);
    std::normal_distribution<float> nd;
    size_t found = 0, wanted = 0;
    for (int t = 0; t < 10; ++t) {
      std::vector<float> q(kDim);
      for (float& x : q) x = nd(rng);
      auto truth = exact(q, 10, group);
      auto got = query(q, 10, group >= 0 ? json{{"g", group}} : json(nullptr));
      for (const auto& id : got) {
        found += truth.count(id);
        if (group >= 0) {
          EXPECT_EQ(std::stoi(id.substr(1)) % 10, group) << id;
        }
      }
      wanted += truth.size();
    }
    return static_cast<double>(found) / static_cast<double>(wanted);
  }
  json verify(const char* op = "verify") {
    auto r = post("/v1/kb/vecs/" + std::string(op), json::object());
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }
  std::string index_file() {
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/indexes")) {
      if (e.path().extension() == ".hnsw") return e.path().string();
    }
    return "";
  }
  // Runs `deepkb kb ARGS --url …` and returns (exit status, output).
  std::pair<int, std::string> cli(const std::string& args) {
    std::string cmd = std::string(DKB_BINARY) + " kb " + args + " --url http://127.0.0.1:" +
                      std::to_string(server_->port()) + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    while (p && fgets(buf, sizeof buf, p)) out += buf;
    int st = p ? pclose(p) : -1;
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
  }

  std::string dir_;
  std::vector<std::vector<float>> vecs_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(KbIndexTest, AnnSearchSurvivesCorruptTruncatedAndStaleIndexFiles) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_EQ(post(kDb + "/collections", {{"name", "vecs"}}).status, 200);
  std::string id = collection_id();
  for (int start = 0; start < kN; start += 2500) {
    json ids = json::array(), embs = json::array(), docs = json::array(), metas = json::array();
    for (int i = start; i < start + 2500; ++i) {
      ids.push_back("r" + std::to_string(i));
      embs.push_back(vecs_[i]);
      docs.push_back("record " + std::to_string(i));
      metas.push_back({{"g", i % 10}});
    }
    auto r = post(kDb + "/collections/" + id + "/add",
                  {{"ids", ids}, {"embeddings", embs}, {"documents", docs}, {"metadatas", metas}});
    ASSERT_EQ(r.status, 201) << r.body;
  }
  EXPECT_GE(recall(), 0.95);
  EXPECT_GE(recall(3), 0.95);  // filter inside the search: only group 3, still the nearest
  ASSERT_FALSE(index_file().empty()) << "no index file written";
  json v = verify();
  EXPECT_TRUE(v["clean"].get<bool>()) << v.dump();

  // Malformed input: a wrong embedding dimension is refused and changes nothing.
  auto bad = post(kDb + "/collections/" + id + "/add",
                  {{"ids", {"bad"}}, {"embeddings", {std::vector<float>(kDim + 1, 0.5f)}}});
  EXPECT_GE(bad.status, 400);
  EXPECT_LT(bad.status, 500);
  auto count = http_request(server_->port(), "GET", kDb + "/collections/" + id + "/count");
  EXPECT_EQ(count.body, std::to_string(kN));
  auto bad_query = post(kDb + "/collections/" + id + "/query",
                        {{"query_embeddings", {std::vector<float>(3, 1.0f)}}});
  EXPECT_EQ(bad_query.status / 100, 4) << bad_query.body;
  EXPECT_EQ(post("/v1/kb/nope/verify", json::object()).status, 404);

  // Corrupt the saved file while the server is stopped: detected, rebuilt on first search.
  ASSERT_EQ(server_->terminate(), 0);
  std::string file = index_file();
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(file) / 2));
    f.write("\xff\xff\xff\xff", 4);
  }
  ASSERT_NO_FATAL_FAILURE(start());
  v = verify();
  EXPECT_FALSE(v["clean"].get<bool>()) << v.dump();
  EXPECT_NE(v["problems"].dump().find("checksum"), std::string::npos) << v.dump();
  EXPECT_GE(recall(), 0.95);
  v = verify();
  EXPECT_TRUE(v["clean"].get<bool>()) << v.dump();

  // Stale after a crash: a record acknowledged after the last save, then kill -9.
  std::vector<float> late(kDim, 3.0f);
  auto r = post(kDb + "/collections/" + collection_id() + "/add",
                {{"ids", {"late"}}, {"embeddings", {late}}, {"documents", {"late record"}}});
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(query(late, 1), std::vector<std::string>{"late"});
  server_->kill_hard();
  ASSERT_NO_FATAL_FAILURE(start());
  v = verify();
  EXPECT_NE(v["problems"].dump().find("stale"), std::string::npos) << v.dump();
  EXPECT_EQ(query(late, 1), std::vector<std::string>{"late"});
  EXPECT_TRUE(verify()["clean"].get<bool>());

  // Truncated: the CLI's verify reports it (exit 1), repair fixes it, verify is clean.
  ASSERT_EQ(server_->terminate(), 0);
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 3);
  ASSERT_NO_FATAL_FAILURE(start());
  auto [rc, out] = cli("verify vecs");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("PROBLEM"), std::string::npos) << out;
  std::tie(rc, out) = cli("repair");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("rebuilt"), std::string::npos) << out;
  std::tie(rc, out) = cli("verify");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("vecs: clean"), std::string::npos) << out;
  EXPECT_EQ(query(late, 1), std::vector<std::string>{"late"});
  EXPECT_GE(recall(), 0.95);
}

}  // namespace
}  // namespace dkb::test
