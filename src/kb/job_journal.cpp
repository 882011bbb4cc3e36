// Durable record of ingestion jobs (see kb/job_journal.h).
#include "kb/job_journal.h"

#include <sqlite3.h>

#include <map>

#include "sqlite_util.h"

namespace dkb::kb {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  number INTEGER PRIMARY KEY,
  collection TEXT NOT NULL,
  state TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS job_files(
  number INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  document_id TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  chunks INTEGER NOT NULL DEFAULT 0,
  format TEXT NOT NULL,
  source TEXT NOT NULL,
  title TEXT NOT NULL,
  metadata TEXT NOT NULL,
  content BLOB,
  PRIMARY KEY(number, idx));
PRAGMA user_version = 1;
)sql";

Result<JobState> state_from_name(std::string_view s) {
  for (JobState st : {JobState::kQueued, JobState::kRunning, JobState::kDone, JobState::kFailed}) {
    if (job_state_name(st) == s) return st;
  }
  return corruption("job journal: unknown job state '" + std::string(s) + "'");
}

bool is_finished(JobState s) { return s == JobState::kDone || s == JobState::kFailed; }

}  // namespace

Result<std::unique_ptr<JobJournal>> JobJournal::open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  std::unique_ptr<JobJournal> journal(new JobJournal(db));  // owns db from here on
  if (rc != SQLITE_OK) return sql::error(db, rc, "opening job journal " + path);
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  for (const char* stmt : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kSchema}) {
    Status s = sql::exec(db, stmt);
    if (!s.is_ok()) return s.with_context("opening job journal " + path);
  }
  return journal;
}

JobJournal::~JobJournal() { sqlite3_close_v2(db_); }

Status JobJournal::add_job(uint64_t number, const JobStatus& status,
                           const std::vector<IngestRequest>& requests) {
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(auto job, sql::Stmt::prepare(db_,
      "INSERT INTO jobs(number, collection, state, created_ms) VALUES(?1, ?2, ?3, ?4)"));
  DKB_RETURN_IF_ERROR(job.bind(1, static_cast<int64_t>(number))
                          .bind(2, status.collection)
                          .bind(3, job_state_name(JobState::kQueued))
                          .bind(4, status.created_unix_ms)
                          .run());
  DKB_ASSIGN_OR_RETURN(auto file, sql::Stmt::prepare(db_,
      "INSERT INTO job_files(number, idx, document_id, status, format, source, title, metadata, "
      "content) VALUES(?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?7, ?8)"));
  for (size_t i = 0; i < requests.size(); ++i) {
    const IngestRequest& r = requests[i];
    file.reset();
    DKB_RETURN_IF_ERROR(file.bind(1, static_cast<int64_t>(number))
                            .bind(2, static_cast<int64_t>(i))
                            .bind(3, r.document_id)
                            .bind(4, format_name(r.format))
                            .bind(5, r.source)
                            .bind(6, r.title)
                            .bind(7, r.metadata.dump())
                            .bind_blob(8, r.content.data(), r.content.size())
                            .run());
  }
  return tx.commit();
}

Status JobJournal::file_done(uint64_t number, size_t index, const JobFileResult& result) {
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_,
      "UPDATE job_files SET status = ?3, error = ?4, chunks = ?5, content = NULL "
      "WHERE number = ?1 AND idx = ?2"));
  DKB_RETURN_IF_ERROR(st.bind(1, static_cast<int64_t>(number))
                          .bind(2, static_cast<int64_t>(index))
                          .bind(3, result.status)
                          .bind(4, result.error)
                          .bind(5, result.chunks)
                          .run());
  if (sqlite3_changes(db_) != 1) {
    return not_found("job journal: no file " + std::to_string(index) + " in job-" +
                     std::to_string(number));
  }
  DKB_ASSIGN_OR_RETURN(auto running, sql::Stmt::prepare(db_,
      "UPDATE jobs SET state = ?2 WHERE number = ?1 AND state = ?3"));
  DKB_RETURN_IF_ERROR(running.bind(1, static_cast<int64_t>(number))
                          .bind(2, job_state_name(JobState::kRunning))
                          .bind(3, job_state_name(JobState::kQueued))
                          .run());
  return tx.commit();
}

Status JobJournal::job_finished(uint64_t number, JobState state, int64_t finished_unix_ms,
                                size_t keep_finished) {
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_,
      "UPDATE jobs SET state = ?2, finished_ms = ?3 WHERE number = ?1"));
  DKB_RETURN_IF_ERROR(st.bind(1, static_cast<int64_t>(number))
                          .bind(2, job_state_name(state))
                          .bind(3, finished_unix_ms)
                          .run());
  if (sqlite3_changes(db_) != 1) {
    return not_found("job journal: no job-" + std::to_string(number));
  }
  // Oldest finished jobs beyond keep_finished, files first.
  const std::string old =
      "SELECT number FROM jobs WHERE state IN ('done', 'failed') ORDER BY number DESC "
      "LIMIT -1 OFFSET ?1";
  for (const std::string& del : {"DELETE FROM job_files WHERE number IN (" + old + ")",
                                 "DELETE FROM jobs WHERE number IN (" + old + ")"}) {
    DKB_ASSIGN_OR_RETURN(auto prune, sql::Stmt::prepare(db_, del));
    DKB_RETURN_IF_ERROR(prune.bind(1, static_cast<int64_t>(keep_finished)).run());
  }
  return tx.commit();
}

Result<std::vector<JobJournal::LoadedJob>> JobJournal::load() const {
  std::lock_guard lock(mu_);
  std::vector<LoadedJob> jobs;
  std::map<uint64_t, size_t> by_number;
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_,
      "SELECT number, collection, state, created_ms, finished_ms FROM jobs ORDER BY number"));
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    LoadedJob j;
    j.number = static_cast<uint64_t>(st.col_int(0));
    j.status.id = "job-" + std::to_string(j.number);
    j.status.collection = st.col_text(1);
    DKB_ASSIGN_OR_RETURN(j.status.state, state_from_name(st.col_text(2)));
    j.status.created_unix_ms = st.col_int(3);
    j.status.finished_unix_ms = st.col_int(4);
    by_number[j.number] = jobs.size();
    jobs.push_back(std::move(j));
  }
  DKB_ASSIGN_OR_RETURN(auto files, sql::Stmt::prepare(db_,
      "SELECT number, idx, document_id, status, error, chunks, format, source, title, metadata, "
      "content FROM job_files ORDER BY number, idx"));
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, files.step());
    if (!row) break;
    auto it = by_number.find(static_cast<uint64_t>(files.col_int(0)));
    if (it == by_number.end()) continue;  // a file row of a pruned job
    LoadedJob& j = jobs[it->second];
    if (files.col_int(1) != static_cast<int64_t>(j.status.files.size())) {
      return corruption("job journal: " + j.status.id + " is missing file " +
                        std::to_string(j.status.files.size()));
    }
    JobFileResult fr{files.col_text(2), files.col_text(3), files.col_text(4), files.col_int(5)};
    std::optional<IngestRequest> req;
    if (fr.status == "pending") {
      if (is_finished(j.status.state)) {
        return corruption("job journal: finished " + j.status.id + " has a pending file");
      }
      IngestRequest r;
      r.collection = j.status.collection;
      r.document_id = fr.document_id;
      auto format = format_from_name(files.col_text(6));
      if (!format.is_ok()) return corruption("job journal: " + format.status().message());
      r.format = *format;
      r.source = files.col_text(7);
      r.title = files.col_text(8);
      r.metadata = Json::parse(files.col_text(9), nullptr, /*allow_exceptions=*/false);
      if (r.metadata.is_discarded()) {
        return corruption("job journal: bad metadata in " + j.status.id);
      }
      auto blob = files.col_blob(10);
      r.content.assign(reinterpret_cast<const char*>(blob.data()), blob.size());
      req = std::move(r);
    } else {
      ++j.status.files_done;
      if (fr.status == "error" || fr.status == "cancelled") ++j.status.files_failed;
      j.status.chunks += fr.chunks;
    }
    j.status.files.push_back(std::move(fr));
    j.pending.push_back(std::move(req));
  }
  for (LoadedJob& j : jobs) j.status.files_total = j.status.files.size();
  return jobs;
}

}  // namespace dkb::kb
