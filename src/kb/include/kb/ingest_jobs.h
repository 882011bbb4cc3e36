// kb::IngestJobs: large ingestions run as background jobs with progress (issue #6, DESIGN §3
// "background" role).
//
// One worker thread per IngestJobs, started lazily, running at a lower scheduling priority
// (nice +10 for the thread) so request threads are never blocked: submit() only queues and
// returns the job id. Jobs run one at a time in submission order; each file of a job is
// ingested on its own (Ingestor::ingest — all-or-nothing per file), so a file that fails is
// recorded with its error and the others still go in.
// Jobs live in memory: the status of the last kMaxFinished finished jobs is kept; a job that
// was queued or running when the process died is gone (its completed files are durable —
// each file is acknowledged only when the job reports it done).
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

#include "kb/ingestor.h"

namespace dkb::kb {

enum class JobState { kQueued, kRunning, kDone, kFailed };
std::string_view job_state_name(JobState s);

struct JobFileResult {
  std::string document_id;
  std::string status;  // "pending", "inserted", "replaced", "unchanged", "error", "cancelled"
  std::string error;   // when status is "error"
  int64_t chunks = 0;  // chunks written
};

struct JobStatus {
  std::string id;  // "job-N"
  std::string collection;
  JobState state = JobState::kQueued;  // kFailed: every file failed
  size_t files_total = 0;
  size_t files_done = 0;  // finished, whether ok or not
  size_t files_failed = 0;
  int64_t chunks = 0;  // chunks written so far
  std::vector<JobFileResult> files;
  int64_t created_unix_ms = 0;
  int64_t finished_unix_ms = 0;  // 0 until done
};

class IngestJobs {
 public:
  static constexpr size_t kMaxFinished = 256;
  // Bytes of documents waiting in queued or running jobs; beyond it submit() refuses.
  static constexpr size_t kMaxQueuedBytes = size_t{1} << 30;

  explicit IngestJobs(Ingestor& ingestor) : ingestor_(ingestor) {}
  ~IngestJobs();
  IngestJobs(const IngestJobs&) = delete;
  IngestJobs& operator=(const IngestJobs&) = delete;

  // Queues the requests (all for `collection`) as one job; returns its status (queued).
  // kInvalidArgument when `requests` is empty; kFailedPrecondition after shutdown();
  // kResourceExhausted while more than kMaxQueuedBytes of documents wait.
  Result<JobStatus> submit(const std::string& collection, std::vector<IngestRequest> requests);
  // kNotFound for an unknown (or expired) id or one of another collection.
  Result<JobStatus> get(std::string_view collection, std::string_view id) const;
  // Jobs of the collection, newest first.
  std::vector<JobStatus> list(std::string_view collection) const;
  // Stops accepting jobs, cancels queued files, waits for the file in progress.
  void shutdown();

 private:
  struct Job {
    JobStatus status;
    std::vector<IngestRequest> requests;
  };
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
  std::thread worker_;
};

}  // namespace dkb::kb
