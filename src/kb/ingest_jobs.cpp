// Background ingestion jobs (see kb/ingest_jobs.h).
#include "kb/ingest_jobs.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace dkb::kb {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* outcome_name(PutOutcome o) {
  switch (o) {
    case PutOutcome::kInserted: return "inserted";
    case PutOutcome::kReplaced: return "replaced";
    case PutOutcome::kUnchanged: return "unchanged";
  }
  return "inserted";
}

}  // namespace

std::string_view job_state_name(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
  }
  return "unknown";
}

IngestJobs::~IngestJobs() { shutdown(); }

void IngestJobs::shutdown() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Status IngestJobs::attach_journal(std::unique_ptr<JobJournal> journal) {
  DKB_CHECK(journal != nullptr);
  DKB_ASSIGN_OR_RETURN(auto loaded, journal->load());
  std::lock_guard lock(mu_);
  if (journal_ || next_id_ != 1) {
    return failed_precondition("the job journal must be attached before the first job");
  }
  journal_ = std::move(journal);
  for (auto& l : loaded) {
    auto job = std::make_shared<Job>();
    job->number = l.number;
    job->status = std::move(l.status);
    next_id_ = std::max(next_id_, l.number + 1);
    if (job->status.state == JobState::kDone || job->status.state == JobState::kFailed) {
      jobs_[job->status.id] = job;
      finished_order_.push_back(job->status.id);
      continue;
    }
    job->status.state = JobState::kQueued;
    size_t bytes = 0;
    for (auto& r : l.pending) {
      job->pending.push_back(r.has_value());
      if (r) bytes += r->content.size();
      job->requests.push_back(r ? std::move(*r) : IngestRequest());
    }
    jobs_[job->status.id] = job;
    enqueue_locked(job, bytes);
    ++resumed_;
  }
  return Status::ok();
}

void IngestJobs::enqueue_locked(std::shared_ptr<Job> job, size_t bytes) {
  queued_bytes_ += bytes;
  queue_.push_back(std::move(job));
  if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
  cv_.notify_one();
}

Result<JobStatus> IngestJobs::submit(const std::string& collection,
                                     std::vector<IngestRequest> requests) {
  if (requests.empty()) return invalid_argument("a job needs at least one document");
  auto job = std::make_shared<Job>();
  job->status.collection = collection;
  job->status.files_total = requests.size();
  job->status.created_unix_ms = now_ms();
  for (const auto& r : requests) job->status.files.push_back({r.document_id, "pending", "", 0});
  size_t bytes = 0;
  for (const auto& r : requests) bytes += r.content.size();
  job->requests = std::move(requests);
  job->pending.assign(job->requests.size(), true);
  JobJournal* journal = nullptr;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return failed_precondition("the server is shutting down");
    if (queued_bytes_ + bytes > kMaxQueuedBytes) {
      return resource_exhausted("ingestion queue is full (" +
                                std::to_string(queued_bytes_ >> 20) +
                                " MiB waiting); retry when the running jobs are done");
    }
    job->number = next_id_++;
    job->status.id = "job-" + std::to_string(job->number);
    journal = journal_.get();
  }
  // Acknowledged only once recorded: the journal write (fsync) runs outside the lock.
  if (journal) {
    Status s = journal->add_job(job->number, job->status, job->requests);
    if (!s.is_ok()) return s.with_context("recording ingestion job");
  }
  std::lock_guard lock(mu_);
  if (stopping_) return failed_precondition("the server is shutting down");
  jobs_[job->status.id] = job;
  enqueue_locked(job, bytes);
  return job->status;
}

Result<JobStatus> IngestJobs::get(std::string_view collection, std::string_view id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || it->second->status.collection != collection) {
    return not_found("job " + std::string(id) + " not found in " + std::string(collection));
  }
  return it->second->status;
}

std::vector<JobStatus> IngestJobs::list(std::string_view collection) const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<uint64_t, JobStatus>> found;
  for (const auto& [id, job] : jobs_) {
    if (job->status.collection == collection) {
      found.emplace_back(std::stoull(id.substr(4)), job->status);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<JobStatus> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

void IngestJobs::finish_locked(Job& job) {
  job.status.state =
      job.status.files_failed == job.status.files_total ? JobState::kFailed : JobState::kDone;
  job.status.finished_unix_ms = now_ms();
  job.requests.clear();
  job.requests.shrink_to_fit();
  finished_order_.push_back(job.status.id);
  while (finished_order_.size() > kMaxFinished) {
    jobs_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

void IngestJobs::run() {
  // Background role: below the request and engine threads (per-thread nice on Linux).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping
    std::shared_ptr<Job> job = queue_.front();
    queue_.pop_front();
    job->status.state = JobState::kRunning;
    bool interrupted = false;
    for (size_t i = 0; i < job->requests.size(); ++i) {
      if (!job->pending[i]) continue;  // done before a restart
      JobFileResult& fr = job->status.files[i];
      if (stopping_ && journal_) {
        interrupted = true;  // the journal keeps the rest pending for the next process
        break;
      }
      if (stopping_) {
        queued_bytes_ -= job->requests[i].content.size();
        fr.status = "cancelled";
        fr.error = "the server shut down before this file was ingested";
        ++job->status.files_failed;
        ++job->status.files_done;
        continue;
      }
      IngestRequest req = std::move(job->requests[i]);
      const size_t bytes = req.content.size();
      lock.unlock();
      Result<PutResult> put = [&]() -> Result<PutResult> {
        try {
          return ingestor_.ingest(req);
        } catch (const std::exception& e) {
          return internal_error(std::string("ingestion failed: ") + e.what());
        }
      }();
      req = IngestRequest();  // the document's bytes are no longer needed
      lock.lock();
      queued_bytes_ -= bytes;
      if (put.is_ok()) {
        fr.status = outcome_name(put->outcome);
        fr.chunks = static_cast<int64_t>(put->added_chunk_ids.size());
        job->status.chunks += fr.chunks;
      } else {
        fr.status = "error";
        fr.error = put.status().message();
        ++job->status.files_failed;
      }
      ++job->status.files_done;
      job->pending[i] = false;
      if (journal_) {
        const JobFileResult result = fr;
        lock.unlock();
        // A failed record only means the file is ingested again (a no-op) after a restart.
        (void)journal_->file_done(job->number, i, result);
        lock.lock();
      }
    }
    if (interrupted) continue;
    finish_locked(*job);
    if (journal_) {
      const JobState state = job->status.state;
      const int64_t finished = job->status.finished_unix_ms;
      lock.unlock();
      (void)journal_->job_finished(job->number, state, finished, kMaxFinished);
      lock.lock();
    }
  }
}

}  // namespace dkb::kb
