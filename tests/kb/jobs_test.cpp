// Background ingestion jobs: progress, per-file errors, listing, shutdown.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "kb/ingest_jobs.h"
#include "kb/job_journal.h"
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


TEST(JobJournal, RecordsJobsFilesAndResultsAndPrunesFinishedOnes) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/jobs.db";
  auto journal = JobJournal::open(path);
  ASSERT_TRUE(journal.is_ok()) << journal.status().to_string();
  JobStatus st;
  st.collection = "kb";
  st.created_unix_ms = 1234;
  std::vector<IngestRequest> reqs;
  reqs.push_back(request("a.md", "# A\n\nalpha", Format::kMarkdown));
  reqs.push_back(request("b.pdf", std::string("%PDF-\0\x01\xff", 8), Format::kPdf));
  reqs[1].title = "Bee";
  reqs[1].source = "/tmp/b.pdf";
  reqs[1].metadata = Json{{"tags", {"x", "y"}}, {"n", 3}};
  ASSERT_TRUE((*journal)->add_job(7, st, reqs).is_ok());
  ASSERT_TRUE((*journal)->file_done(7, 0, {"a.md", "inserted", "", 2}).is_ok());
  EXPECT_EQ((*journal)->file_done(7, 5, {"z", "inserted", "", 1}).code(), ErrorCode::kNotFound);
  journal->reset();  // as after a crash: only what was committed counts

  journal = JobJournal::open(path);
  ASSERT_TRUE(journal.is_ok());
  auto loaded = (*journal)->load();
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  ASSERT_EQ(loaded->size(), 1u);
  const auto& j = (*loaded)[0];
  EXPECT_EQ(j.number, 7u);
  EXPECT_EQ(j.status.id, "job-7");
  EXPECT_EQ(j.status.collection, "kb");
  EXPECT_EQ(j.status.state, JobState::kRunning);  // a file is done
  EXPECT_EQ(j.status.created_unix_ms, 1234);
  EXPECT_EQ(j.status.files_total, 2u);
  EXPECT_EQ(j.status.files_done, 1u);
  EXPECT_EQ(j.status.chunks, 2);
  ASSERT_EQ(j.pending.size(), 2u);
  EXPECT_FALSE(j.pending[0].has_value());
  ASSERT_TRUE(j.pending[1].has_value());
  EXPECT_EQ(j.pending[1]->content, reqs[1].content);  // binary bytes intact
  EXPECT_EQ(j.pending[1]->format, Format::kPdf);
  EXPECT_EQ(j.pending[1]->title, "Bee");
  EXPECT_EQ(j.pending[1]->source, "/tmp/b.pdf");
  EXPECT_EQ(j.pending[1]->metadata, reqs[1].metadata);
  EXPECT_EQ(j.pending[1]->collection, "kb");
  EXPECT_EQ(j.status.files[1].status, "pending");

  // Finishing prunes the oldest finished jobs beyond the limit.
  ASSERT_TRUE((*journal)->file_done(7, 1, {"b.pdf", "error", "no %PDF- header", 0}).is_ok());
  ASSERT_TRUE((*journal)->job_finished(7, JobState::kDone, 99, 2).is_ok());
  for (uint64_t n = 8; n <= 10; ++n) {
    ASSERT_TRUE((*journal)->add_job(n, st, {request("c.txt", "c", Format::kText)}).is_ok());
    ASSERT_TRUE((*journal)->file_done(n, 0, {"c.txt", "inserted", "", 1}).is_ok());
    ASSERT_TRUE((*journal)->job_finished(n, JobState::kDone, 100, 2).is_ok());
  }
  loaded = (*journal)->load();
  ASSERT_TRUE(loaded.is_ok());
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].status.id, "job-9");
  EXPECT_EQ((*loaded)[1].status.id, "job-10");
  EXPECT_EQ((*loaded)[1].status.finished_unix_ms, 100);
}

TEST(JobJournal, AFileThatIsNotADatabaseIsRejected) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/jobs.db";
  std::ofstream(path) << std::string(4096, 'x');
  auto journal = JobJournal::open(path);
  ASSERT_FALSE(journal.is_ok());
  EXPECT_EQ(journal.status().code(), ErrorCode::kCorruption);
  EXPECT_NE(journal.status().message().find(path), std::string::npos) << journal.status().message();
}

// A job acknowledged by a process that died before running it (journal written, nothing
// ingested) is run by the next process; later jobs continue the numbering.
TEST(IngestJobs, ResumesUnfinishedJobsFromTheJournal) {
  testing::TempDir dir;
  auto store = open_sqlite_store(dir.path() + "/data");
  ASSERT_TRUE(store.is_ok());
  ASSERT_TRUE((*store)->create_collection("kb", Json::object(), 0).is_ok());
  const std::string path = dir.path() + "/jobs.db";
  {
    auto journal = JobJournal::open(path);
    ASSERT_TRUE(journal.is_ok());
    JobStatus st;
    st.collection = "kb";
    std::vector<IngestRequest> reqs;
    reqs.push_back(request("done.txt", "already ingested before the crash", Format::kText));
    reqs.push_back(request("b.md", "# B\n\nbeta gamma", Format::kMarkdown));
    reqs.push_back(request("c.txt", "delta epsilon", Format::kText));
    ASSERT_TRUE((*journal)->add_job(3, st, reqs).is_ok());
    ASSERT_TRUE((*journal)->file_done(3, 0, {"done.txt", "inserted", "", 1}).is_ok());
  }
  Ingestor ingestor(**store, nullptr);
  {
    IngestJobs jobs(ingestor);
    auto journal = JobJournal::open(path);
    ASSERT_TRUE(journal.is_ok());
    ASSERT_TRUE(jobs.attach_journal(std::move(*journal)).is_ok());
    JobStatus done = wait_done(jobs, "job-3");
    EXPECT_EQ(done.state, JobState::kDone);
    EXPECT_EQ(done.files_done, 3u);
    EXPECT_EQ(done.files_failed, 0u);
    EXPECT_EQ(done.files[0].status, "inserted");  // from the journal, not run again
    EXPECT_EQ(done.files[1].status, "inserted");
    EXPECT_EQ(done.files[2].status, "inserted");
    EXPECT_TRUE((*store)->get_document("kb", "b.md").is_ok());
    EXPECT_TRUE((*store)->get_document("kb", "c.txt").is_ok());
    EXPECT_FALSE((*store)->get_document("kb", "done.txt").is_ok());  // was not run again
    auto next = jobs.submit("kb", {request("d.txt", "zeta", Format::kText)});
    ASSERT_TRUE(next.is_ok());
    EXPECT_EQ(next->id, "job-4");
    wait_done(jobs, "job-4");
  }
  // A third process sees both jobs finished, with their results.
  IngestJobs jobs(ingestor);
  auto journal = JobJournal::open(path);
  ASSERT_TRUE(journal.is_ok());
  ASSERT_TRUE(jobs.attach_journal(std::move(*journal)).is_ok());
  auto listed = jobs.list("kb");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id, "job-4");
  EXPECT_EQ(listed[0].state, JobState::kDone);
  EXPECT_EQ(listed[1].files[2].status, "inserted");
  auto again = JobJournal::open(path);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(jobs.attach_journal(std::move(again).value()).code(), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace dkb::kb
