// kb::IngestJobs: large ingestions run as background jobs with progress (issue #6, DESIGN §3
// "background" role).
//
// One worker thread per IngestJobs, started lazily, running at a lower scheduling priority
// (nice +10 for the thread) so request threads are never blocked: submit() only queues and
// returns the job id. Jobs run one at a time in submission order; each file of a job is
// ingested on its own (Ingestor::ingest — all-or-nothing per file), so a file that fails is
// recorded with its error and the others still go in.
// Durability: with a JobJournal attached (attach_journal; the server keeps it in
// DATA/jobs.db), submit() returns only after the job's documents are recorded there, each
// file's result is recorded when it is done, and after a crash, kill -9 or shutdown the next
// process resumes every unfinished job with its pending files (a file interrupted mid-way is
// ingested again; the content hash makes that "unchanged" if it had been committed). Without a
// journal, jobs live in memory only and shutdown() reports queued files as "cancelled".
// The status of the last kMaxFinished finished jobs is kept (in memory and in the journal).
// Ownership: borrows the Ingestor, which must outlive this object. The destructor cancels
// queued files (they are reported as "cancelled") and joins the worker after the file in
// progress.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kb/ingest_job_status.h"
#include "kb/ingestor.h"
#include "kb/job_journal.h"

namespace dkb::kb {

class IngestJobs {
 public:
  static constexpr size_t kMaxFinished = 256;
  // Bytes of documents waiting in queued or running jobs; beyond it submit() refuses.
  static constexpr size_t kMaxQueuedBytes = size_t{1} << 30;

  explicit IngestJobs(Ingestor& ingestor) : ingestor_(ingestor) {}
  ~IngestJobs();
  IngestJobs(const IngestJobs&) = delete;
  IngestJobs& operator=(const IngestJobs&) = delete;

  // Makes jobs durable: loads the journal's jobs (finished ones for their status), queues the
  // unfinished ones' pending files, and records every later job in it. Call once, before the
  // first submit(); kFailedPrecondition otherwise; journal errors as JobJournal::load.
  Status attach_journal(std::unique_ptr<JobJournal> journal);
  // Unfinished jobs attach_journal() found and queued again.
  size_t resumed_jobs() const {
    std::lock_guard lock(mu_);
    return resumed_;
  }
  // Queues the requests (all for `collection`) as one job; returns its status (queued).
  // kInvalidArgument when `requests` is empty; kFailedPrecondition after shutdown();
  // kResourceExhausted while more than kMaxQueuedBytes of documents wait; the journal's error
  // when the job could not be recorded (nothing is queued then).
  Result<JobStatus> submit(const std::string& collection, std::vector<IngestRequest> requests);
  // kNotFound for an unknown (or expired) id or one of another collection.
  Result<JobStatus> get(std::string_view collection, std::string_view id) const;
  // Jobs of the collection, newest first.
  std::vector<JobStatus> list(std::string_view collection) const;
  // Stops accepting jobs, cancels queued files, waits for the file in progress.
  void shutdown();

 private:
  struct Job {
    uint64_t number = 0;
    JobStatus status;
    std::vector<IngestRequest> requests;  // empty document_id + content: already done
    std::vector<bool> pending;            // pending[i]: file i still to be ingested
  };
  void enqueue_locked(std::shared_ptr<Job> job, size_t bytes);
  void run();
  void finish_locked(Job& job);

  Ingestor& ingestor_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::map<std::string, std::shared_ptr<Job>, std::less<>> jobs_;
  std::deque<std::string> finished_order_;
  uint64_t next_id_ = 1;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  size_t resumed_ = 0;
  std::thread worker_;
  std::unique_ptr<JobJournal> journal_;
};

}  // namespace dkb::kb
