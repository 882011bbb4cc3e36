// Status records of background ingestion jobs (kb::IngestJobs, kb::JobJournal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace dkb::kb
