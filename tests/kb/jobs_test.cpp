// Background ingestion jobs: progress, per-file errors, listing, shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kb/ingest_jobs.h"
#include "kb/sqlite_store.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

JobStatus wait_done(IngestJobs& jobs, const std::string& id) {
  for (;;) {
    auto s = jobs.get("kb", id);
    EXPECT_TRUE(s.is_ok());
    if (!s.is_ok() || s->state == JobState::kDone || s->state == JobState::kFailed) return *s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

IngestRequest request(std::string id, std::string content, Format f) {
  IngestRequest r;
  r.collection = "kb";
  r.document_id = std::move(id);
  r.content = std::move(content);
  r.format = f;
  return r;
}

TEST(IngestJobs, RunsFilesInTheBackgroundAndReportsEachOne) {
  testing::TempDir dir;
  auto store = open_sqlite_store(dir.path() + "/data");
  ASSERT_TRUE(store.is_ok());
  ASSERT_TRUE((*store)->create_collection("kb", Json::object(), 0).is_ok());
  Ingestor ingestor(**store, nullptr);
  IngestJobs jobs(ingestor);
  std::vector<IngestRequest> reqs;
  reqs.push_back(request("a.md", "# A\n\nalpha text", Format::kMarkdown));
  reqs.push_back(request("b.pdf", "garbage", Format::kPdf));
  reqs.push_back(request("c.csv", "x,y\n1,2\n", Format::kCsv));
  auto submitted = jobs.submit("kb", std::move(reqs));
  ASSERT_TRUE(submitted.is_ok());
  EXPECT_EQ(submitted->files_total, 3u);
  JobStatus done = wait_done(jobs, submitted->id);
  EXPECT_EQ(done.state, JobState::kDone);
  EXPECT_EQ(done.files_done, 3u);
  EXPECT_EQ(done.files_failed, 1u);
  ASSERT_EQ(done.files.size(), 3u);
  EXPECT_EQ(done.files[0].status, "inserted");
  EXPECT_EQ(done.files[1].status, "error");
  EXPECT_NE(done.files[1].error.find("no %PDF- header"), std::string::npos);
  EXPECT_EQ(done.files[2].status, "inserted");
  EXPECT_EQ(done.chunks, done.files[0].chunks + done.files[2].chunks);
  EXPECT_EQ(*(*store)->count_chunks("kb"), done.chunks);

  std::vector<IngestRequest> bad;
  bad.push_back(request("z.docx", "nope", Format::kDocx));
  auto second = jobs.submit("kb", std::move(bad));
  ASSERT_TRUE(second.is_ok());
  EXPECT_EQ(wait_done(jobs, second->id).state, JobState::kFailed);
  auto listed = jobs.list("kb");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, second->id);  // newest first
  EXPECT_TRUE(jobs.list("other").empty());
  EXPECT_EQ(jobs.get("other", submitted->id).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(jobs.get("kb", "job-999").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(jobs.submit("kb", {}).status().code(), ErrorCode::kInvalidArgument);
  jobs.shutdown();
  std::vector<IngestRequest> late;
  late.push_back(request("late.txt", "late", Format::kText));
  EXPECT_EQ(jobs.submit("kb", std::move(late)).status().code(), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace dkb::kb
