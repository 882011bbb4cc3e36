// kb::JobJournal: the durable record of ingestion jobs (issue #6: acknowledged writes survive
// kill -9), so a job accepted with 202 is finished after a crash or restart.
//
// One SQLite file (WAL, synchronous=FULL), by default DATA/jobs.db beside the store, with a
// row per job and a row per file. add_job() stores the job's documents (their raw bytes) in one
// transaction before it returns — only then is the job acknowledged. file_done() records a
// file's result and drops its bytes in the same transaction; job_finished() marks the job
// finished and prunes finished jobs beyond `keep_finished`. load() returns every recorded job:
// finished ones for their status, unfinished ones with the requests of their pending files.
// A file whose ingestion was in progress at a crash is still pending and is ingested again on
// restart; if its document had already been committed, the content hash makes that a no-op and
// the file reports "unchanged".
// Ownership: owns its SQLite connection. The data directory's lock (SqliteStore) keeps a
// second process away, so one process writes the journal.
// Thread-safety: all methods may be called from any thread (one internal mutex).
// Errors: kIoError / kCorruption from SQLite (a journal that is not a database: kCorruption
// naming the file), kNotFound for an unknown job in file_done/job_finished.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kb/ingest_job_status.h"
#include "kb/ingestor.h"

struct sqlite3;

namespace dkb::kb {

class JobJournal {
 public:
  struct LoadedJob {
    uint64_t number = 0;  // the N of "job-N"
    JobStatus status;     // files[i].status "pending" for files not yet done
    // For unfinished jobs: pending[i] holds file i's request when that file is still pending.
    std::vector<std::optional<IngestRequest>> pending;
  };

  // Opens or creates the journal at `path`.
  static Result<std::unique_ptr<JobJournal>> open(const std::string& path);
  ~JobJournal();
  JobJournal(const JobJournal&) = delete;
  JobJournal& operator=(const JobJournal&) = delete;

  // Records job `number` (status: collection, created time, files) with its requests; durable
  // on return.
  Status add_job(uint64_t number, const JobStatus& status,
                 const std::vector<IngestRequest>& requests);
  // Records file `index` of job `number` as done with `result`; drops its bytes.
  Status file_done(uint64_t number, size_t index, const JobFileResult& result);
  // Marks the job finished; then deletes the oldest finished jobs beyond keep_finished.
  Status job_finished(uint64_t number, JobState state, int64_t finished_unix_ms,
                      size_t keep_finished);
  // Every recorded job, oldest first.
  Result<std::vector<LoadedJob>> load() const;

 private:
  explicit JobJournal(sqlite3* db) : db_(db) {}
  mutable std::mutex mu_;
  sqlite3* db_;
};

}  // namespace dkb::kb
