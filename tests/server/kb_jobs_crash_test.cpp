// End-to-end: an ingestion job acknowledged with 202 survives kill -9 of the real deepkb
// binary — after a restart on the same data directory the job is finished from its journal
// (DATA/jobs.db) and every document of it is present and searchable; a graceful restart
// keeps finished jobs' status; a corrupt journal stops the server with a clear error.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/fixtures.h"
#include "support/http_client.h"

namespace dkb::test {
namespace {

using nlohmann::json;
constexpr int kFiles = 40;

class KbJobsCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
    dir_ = (std::filesystem::temp_directory_path() / ("dkb_jobcrash_" + std::to_string(getpid())))
               .string();
    std::filesystem::remove_all(dir_);
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
  json get(const std::string& target) {
    auto r = http_request(server_->port(), "GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // Polls the job until it is finished (or 300 s pass).
  json wait_finished(const std::string& id) {
    json job;
    for (int i = 0; i < 3000; ++i) {
      job = get("/v1/kb/notes/jobs/" + id);
      if (job.value("state", "") == "done" || job.value("state", "") == "failed") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return job;
  }
  std::unique_ptr<ServerProcess> server_;
  std::string dir_;
};

// Markdown notes of a few chunks each, every one with a word no other note has.
std::string multipart_notes(const std::string& boundary) {
  std::string body;
  for (int i = 0; i < kFiles; ++i) {
    std::string text = "# Note " + std::to_string(i) + "\n\n";
    for (int p = 0; p < 12; ++p) {
      text += "Paragraph " + std::to_string(p) + " of note " + std::to_string(i) +
              " talks about rivers, mountains and the weather in spring. ";
      text += "The marker word is uniq" + std::to_string(i) + "word.\n\n";
    }
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note-" +
            std::to_string(i) + ".md\"\r\nContent-Type: text/markdown\r\n\r\n" + text + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

TEST_F(KbJobsCrashTest, AcceptedJobIsFinishedAfterKill9) {
  start();
  ASSERT_EQ(http_request(server_->port(), "POST", "/v1/kb", json{{"name", "notes"}}.dump()).status, 201);
  auto up = http_request(server_->port(), "POST", "/v1/kb/notes/documents", multipart_notes("b0und"),
                         {{"Content-Type", "multipart/form-data; boundary=b0und"}});
  ASSERT_EQ(up.status, 202) << up.body;
  const std::string id = json::parse(up.body)["job"]["id"];
  server_->kill_hard();  // at once: the job has at most just begun

  start();
  EXPECT_NE(server_->output().find("resuming 1 ingestion job(s)"), std::string::npos)
      << server_->output();
  json job = wait_finished(id);
  ASSERT_EQ(job["state"], "done") << job;
  EXPECT_EQ(job["files_total"], kFiles);
  EXPECT_EQ(job["files_done"], kFiles);
  EXPECT_EQ(job["files_failed"], 0);
  for (const auto& f : job["files"]) {
    const std::string st = f["status"];
    EXPECT_TRUE(st == "inserted" || st == "unchanged") << f;
  }
  json docs = get("/v1/kb/notes/documents");
  EXPECT_EQ(docs["data"].size(), static_cast<size_t>(kFiles)) << docs;
  for (int i : {0, kFiles / 2, kFiles - 1}) {
    auto r = http_request(server_->port(), "POST", "/v1/kb/notes/search",
                          json{{"query", "uniq" + std::to_string(i) + "word"}, {"mode", "bm25"}, {"top_k", 3}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    json hits = json::parse(r.body)["hits"];
    ASSERT_FALSE(hits.empty()) << r.body;
    EXPECT_EQ(hits[0]["document"], "note-" + std::to_string(i) + ".md") << hits[0];
  }

  // A graceful restart keeps the finished job's status; nothing runs again.
  ASSERT_EQ(server_->terminate(), 0) << server_->output();
  start();
  json again = get("/v1/kb/notes/jobs/" + id);
  EXPECT_EQ(again["state"], "done");
  EXPECT_EQ(again["files"], job["files"]);
  EXPECT_EQ(get("/v1/kb/notes/documents")["data"].size(), static_cast<size_t>(kFiles));
  EXPECT_EQ(server_->output().find("resuming"), std::string::npos) << server_->output();
}

TEST_F(KbJobsCrashTest, CorruptJournalStopsTheServerWithItsName) {
  start();
  ASSERT_EQ(server_->terminate(), 0) << server_->output();
  {
    std::ofstream f(dir_ + "/jobs.db", std::ios::trunc);
    f << std::string(8192, 'z');
  }
  for (const char* wal : {"/jobs.db-wal", "/jobs.db-shm"}) std::filesystem::remove(dir_ + wal);
  ServerProcess bad(DKB_BINARY, {"--embed-model", fixture_path("models/tiny-bert-F16.gguf"),
                                 "--data", dir_, "--no-warmup"});
  EXPECT_FALSE(bad.ready());
  EXPECT_NE(bad.output().find("jobs.db"), std::string::npos) << bad.output();
  EXPECT_NE(bad.terminate(), 0);
}

}  // namespace
}  // namespace dkb::test
