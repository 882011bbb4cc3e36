// End-to-end: document formats, ingestion jobs and vault import through the real binary —
// `deepkb serve` plus the `deepkb kb` client commands — and the HTTP routes behind them,
// including malformed uploads.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/run_cli.h"
#include "support/http_client.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using Output = dkb::test::CliOutput;
Output run(const std::string& args) { return dkb::test::run_deepkb(args, dkb::test::Stderr::kMerge); }

std::string q(const std::string& s) { return dkb::test::shell_quote(s); }

class KbDocsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
    server_ = std::make_unique<dkb::test::ServerProcess>(
        DKB_BINARY, std::vector<std::string>{"-m", dkb::test::fixture_path("models/stories260K.gguf"),
                                             "--no-warmup"});
    ASSERT_TRUE(server_->ready()) << server_->output();
    url_ = " --url http://127.0.0.1:" + std::to_string(server_->port());
    work_ = fs::temp_directory_path() / ("dkb_kbdocs_" + std::to_string(getpid()));
    fs::remove_all(work_);
    fs::create_directories(work_);
  }
  void TearDown() override { fs::remove_all(work_); }
  json get(const std::string& target) {
    auto r = dkb::test::http_request(server_->port(), "GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  dkb::test::HttpResult post(const std::string& target, const std::string& body,
                             const std::string& type = "application/json") {
    return dkb::test::http_request(server_->port(), "POST", target, body, {{"Content-Type", type}});
  }
  std::unique_ptr<dkb::test::ServerProcess> server_;
  std::string url_;
  fs::path work_;
};

std::string data(const std::string& name) { return std::string(DKB_KB_TEST_DATA) + "/" + name; }

TEST_F(KbDocsCli, AddPdfDocxCsvAsAJobAndRejectGarbage) {
  ASSERT_EQ(run("kb create docs" + url_).status, 0);
  std::ofstream(work_ / "prices.csv") << "product,price\nwidget,3\ngadget,5\n";
  std::ofstream(work_ / "scan.pdf") << "\x7f" "ELF this is not a pdf";
  Output add = run("kb add docs " + q(data("two_pages.pdf")) + " " + q(data("report.docx")) + " " +
                   q((work_ / "prices.csv").string()) + " " + q((work_ / "scan.pdf").string()) + url_);
  EXPECT_NE(add.status, 0) << add.out;  // one file failed
  EXPECT_NE(add.out.find("two_pages.pdf: inserted (2 chunks)"), std::string::npos) << add.out;
  EXPECT_NE(add.out.find("report.docx: inserted"), std::string::npos) << add.out;
  EXPECT_NE(add.out.find("prices.csv: inserted"), std::string::npos) << add.out;
  EXPECT_NE(add.out.find("scan.pdf: ingesting"), std::string::npos) << add.out;
  EXPECT_NE(add.out.find("not a PDF: no %PDF- header"), std::string::npos) << add.out;

  json jobs = get("/v1/kb/docs/jobs");
  ASSERT_EQ(jobs["data"].size(), 1u) << jobs;
  const json& job = jobs["data"][0];
  EXPECT_EQ(job["state"], "done");
  EXPECT_EQ(job["files_total"], 4);
  EXPECT_EQ(job["files_done"], 4);
  EXPECT_EQ(job["files_failed"], 1);
  EXPECT_EQ(get("/v1/kb/docs/jobs/" + job["id"].get<std::string>())["id"], job["id"]);
  EXPECT_EQ(dkb::test::http_request(server_->port(), "GET", "/v1/kb/docs/jobs/job-999").status, 404);

  std::string pdf_id = data("two_pages.pdf");
  json doc = get("/v1/kb/docs/documents/" + pdf_id);  // the id is an absolute path
  EXPECT_EQ(doc["title"], "Deepkb Manual");
  EXPECT_EQ(doc["pages"], json({1, 2}));
  Output search = run("kb search docs BM25 --mode bm25" + url_);
  EXPECT_NE(search.out.find("two_pages.pdf #1"), std::string::npos) << search.out;
  auto hits = post("/v1/kb/docs/search", json{{"query", "Europe"}, {"mode", "bm25"}}.dump());
  ASSERT_EQ(hits.status, 200) << hits.body;
  json h = json::parse(hits.body)["hits"][0];
  EXPECT_EQ(h["heading"], json({"Revenue", "Europe"}));

  // Re-adding is a no-op; the documents list did not get the garbage file.
  Output again = run("kb add docs " + q(data("two_pages.pdf")) + url_);
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("two_pages.pdf: unchanged"), std::string::npos) << again.out;
  EXPECT_EQ(get("/v1/kb/docs/documents")["data"].size(), 3u);
}

TEST_F(KbDocsCli, UploadsAndJobsOverHttpWithMalformedInputs) {
  ASSERT_EQ(post("/v1/kb", json{{"name", "up"}}.dump()).status, 201);
  std::string b = "XyZ";
  auto part = [&](const std::string& filename, const std::string& body) {
    return "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename +
           "\"\r\n\r\n" + body + "\r\n";
  };
  std::string type = "multipart/form-data; boundary=" + b;
  // A single garbage "PDF": 400 with the reason, nothing stored.
  auto bad = post("/v1/kb/up/documents", part("x.pdf", "garbage") + "--" + b + "--\r\n", type);
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("not a PDF"), std::string::npos) << bad.body;
  std::string pdf;
  {
    std::ifstream in(data("encrypted.pdf"), std::ios::binary);
    pdf.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto locked = post("/v1/kb/up/documents", part("l.pdf", pdf) + "--" + b + "--\r\n", type);
  EXPECT_EQ(locked.status, 400);
  EXPECT_NE(locked.body.find("encrypted"), std::string::npos) << locked.body;
  EXPECT_EQ(post("/v1/kb/up/documents", "no boundary here", "multipart/form-data").status, 400);
  EXPECT_EQ(post("/v1/kb/up/documents", part("a.txt", "x"), type).status, 400);  // unterminated
  EXPECT_EQ(post("/v1/kb/up/documents", "--" + b + "\r\nX: y\r\n\r\nz\r\n--" + b + "--\r\n", type).status, 400);
  EXPECT_EQ(post("/v1/kb/nope/documents", part("a.txt", "x") + "--" + b + "--\r\n", type).status, 404);
  EXPECT_TRUE(get("/v1/kb/up/documents")["data"].empty());
  // One small text file: ingested at once.
  auto one = post("/v1/kb/up/documents", part("a.md", "# A\n\nalpha") + "--" + b + "--\r\n", type);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(json::parse(one.body)["results"][0]["status"], "inserted");
  // JSON documents with ?async=true: a job.
  auto queued = post("/v1/kb/up/documents?async=true",
                     json{{"documents", {{{"id", "j1"}, {"text", "job text"}}}}}.dump());
  ASSERT_EQ(queued.status, 202) << queued.body;
  std::string id = json::parse(queued.body)["job"]["id"];
  json status;
  for (int i = 0; i < 500; ++i) {
    status = get("/v1/kb/up/jobs/" + id);
    if (status["state"] == "done" || status["state"] == "failed") break;
    usleep(10000);
  }
  EXPECT_EQ(status["state"], "done") << status;
  EXPECT_EQ(status["files"][0]["status"], "inserted");
  EXPECT_EQ(get("/v1/kb/up/documents")["data"].size(), 2u);
  auto bin_json = post("/v1/kb/up/documents", json{{"documents", {{{"id", "p"}, {"text", "x"}, {"format", "pdf"}}}}}.dump());
  EXPECT_EQ(bin_json.status, 400);
  EXPECT_NE(bin_json.body.find("multipart"), std::string::npos);
}

TEST_F(KbDocsCli, ImportVaultBuildsTheGraphAndResyncs) {
  fs::path vault = work_ / "vault";
  fs::copy(fs::path(DKB_KB_TEST_DATA) / "vault", vault, fs::copy_options::recursive);
  ASSERT_EQ(run("kb create notes" + url_).status, 0);
  Output first = run("kb import-vault notes " + q(vault.string()) + url_);
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_NE(first.out.find(": 4 notes, 4 new or changed"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("10 links"), std::string::npos) << first.out;

  json g = get("/v1/kb/notes/graph");
  ASSERT_EQ(g["nodes"].size(), 7u) << g;
  ASSERT_EQ(g["edges"].size(), 10u) << g;
  EXPECT_EQ(g["nodes"][4], json({{"id", "Missing Note"}, {"title", "Missing Note"}, {"tags", json::array()}, {"unresolved", true}}));
  EXPECT_EQ(g["edges"][0], json({{"source", "Home.md"}, {"target", "Projects/Plan.md"}, {"resolved", true},
                                 {"embed", false}, {"heading", ""}, {"alias", "the plan"},
                                 {"written", "Projects/Plan"}}));
  EXPECT_EQ(g["edges"][2]["embed"], true);
  json ideas = get("/v1/kb/notes/documents/Ideas.md");
  std::vector<std::string> back;
  for (const auto& e : ideas["backlinks"]) back.push_back(e["source"]);
  EXPECT_EQ(back, (std::vector<std::string>{"Home.md", "Home.md", "pages/Logseq Page.md"}));
  EXPECT_EQ(ideas["metadata"]["aliases"], json({"Brainstorm"}));
  json plan_doc = get("/v1/kb/notes/documents/Projects/Plan.md");
  EXPECT_EQ(plan_doc["metadata"]["tags"], json({"project/alpha"}));
  EXPECT_EQ(plan_doc["links"][1]["resolved"], false);

  Output second = run("kb import-vault notes " + q(vault.string()) + url_);
  EXPECT_NE(second.out.find("0 new or changed (0 chunks, 0 links), 4 unchanged, 0 deleted"), std::string::npos)
      << second.out;

  std::ofstream(vault / "Projects/Plan.md") << "# Plan\n\nNow see [[Ideas|ideas]] only.\n";
  fs::remove(vault / "pages/Logseq Page.md");
  Output third = run("kb import-vault notes " + q(vault.string()) + url_);
  ASSERT_EQ(third.status, 0) << third.out;
  EXPECT_NE(third.out.find("deleted pages/Logseq Page.md"), std::string::npos) << third.out;
  EXPECT_NE(third.out.find("1 new or changed (1 chunks, 1 links), 2 unchanged, 1 deleted"), std::string::npos)
      << third.out;
  g = get("/v1/kb/notes/graph");
  EXPECT_EQ(g["nodes"].size(), 3u) << g;
  EXPECT_EQ(g["edges"].size(), 6u) << g;
  EXPECT_EQ(g["edges"][5]["source"], "Projects/Plan.md");
  EXPECT_EQ(g["edges"][5]["target"], "Ideas.md");
  EXPECT_EQ(dkb::test::http_request(server_->port(), "GET", "/v1/kb/notes/documents/pages/Logseq%20Page.md").status, 404);

  // Malformed vault requests change nothing.
  EXPECT_EQ(post("/v1/kb/notes/vault/sync", json{{"notes", {{{"path", "../x.md"}, {"hash", "h"}}}}}.dump()).status, 400);
  EXPECT_EQ(post("/v1/kb/notes/vault/sync", json{{"notes", "x"}}.dump()).status, 400);
  EXPECT_EQ(post("/v1/kb/notes/vault/notes", json{{"notes", {{{"path", "/etc/passwd.md"}, {"text", "x"}}}}}.dump()).status, 400);
  EXPECT_EQ(dkb::test::http_request(server_->port(), "GET", "/v1/kb/nope/graph").status, 404);
  EXPECT_EQ(get("/v1/kb/notes/graph")["nodes"].size(), 3u);
  EXPECT_NE(run("kb import-vault notes " + q((work_ / "missing").string()) + url_).status, 0);
}

}  // namespace
