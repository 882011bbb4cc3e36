// deepkb kb add: uploads files as multipart/form-data; several files run as a server-side
// job whose progress is shown as a bar on a TTY (stderr) and as one line per file otherwise.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "commands.h"
#include "kb/parsers.h"
#include "kb_client.h"

namespace dkb::cli {
namespace {

using nlohmann::json;

// The server's default body limit is 32 MiB; leave room for the multipart framing.
constexpr size_t kMaxBatchBytes = 24u << 20;

struct Pending {
  std::string path;
  std::string bytes;
};

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\r' || c == '\n') ? ' ' : c;
  }
  return out + "\"";
}

std::string multipart_body(const std::vector<Pending>& files, const std::string& boundary) {
  std::string body;
  for (const auto& f : files) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=" +
            quoted(f.path) + "\r\nContent-Type: application/octet-stream\r\n\r\n";
    body += f.bytes;
    body += "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

void print_file(size_t index, size_t total, const std::string& path, const json& r) {
  if (r.value("status", "") == "error" || r.value("status", "") == "cancelled") {
    std::fprintf(stderr, "[%zu/%zu] %s: %s\n", index, total, path.c_str(),
                 r.value("error", r.value("status", "")).c_str());
  } else {
    std::printf("[%zu/%zu] %s: %s (%lld chunks)\n", index, total, path.c_str(),
                r.value("status", "").c_str(), static_cast<long long>(r.value("chunks", 0)));
  }
}

void draw_bar(const json& job) {
  size_t total = job.value("files_total", size_t{1}), done = job.value("files_done", size_t{0});
  constexpr int kWidth = 30;
  int filled = static_cast<int>(kWidth * done / std::max<size_t>(total, 1));
  std::fprintf(stderr, "\r[%.*s%.*s] %zu/%zu files, %lld chunks, %zu failed ", filled,
               "##############################", kWidth - filled,
               "                              ", done, total,
               static_cast<long long>(job.value("chunks", 0)), job.value("files_failed", size_t{0}));
  std::fflush(stderr);
}

// Follows a job until it ends; returns the number of failed files (or -1 when the job
// could not be read).
int follow_job(const ServerOpts& s, const std::string& kb, json job, size_t offset, size_t total) {
  const bool tty = isatty(STDERR_FILENO) != 0;
  const std::string target = "/v1/kb/" + kb + "/jobs/" + job.value("id", "");
  size_t printed = 0;
  for (;;) {
    const json& files = job["files"];
    std::string state = job.value("state", "");
    if (tty) {
      draw_bar(job);
    } else {  // one line per finished file, in order
      while (printed < files.size() && files[printed].value("status", "") != "pending") {
        print_file(offset + printed + 1, total, files[printed].value("id", ""), files[printed]);
        ++printed;
      }
    }
    if (state == "done" || state == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    json next;
    if (!call(s, "GET", target, nullptr, &next)) return -1;
    job = std::move(next);
  }
  if (tty) {
    std::fprintf(stderr, "\n");
    for (size_t i = 0; i < job["files"].size(); ++i)
      print_file(offset + i + 1, total, job["files"][i].value("id", ""), job["files"][i]);
  }
  return static_cast<int>(job.value("files_failed", 0));
}

}  // namespace

int kb_add_files(const ServerOpts& s, const std::string& kb, const std::vector<std::string>& files,
                 bool async) {
  int failed = 0;
  std::vector<std::vector<Pending>> batches(1);
  size_t batch_bytes = 0, index = 0;
  std::vector<size_t> batch_offsets = {0};
  for (const auto& path : files) {
    ++index;
    Pending p{path, {}};
    const char* why = nullptr;
    if (!kb::format_from_path(path).is_ok()) why = "unsupported file type (txt, md, html, json, pdf, docx, csv, tsv)";
    else if (!read_file_bytes(path, &p.bytes)) why = "cannot read";
    else if (p.bytes.size() > kMaxBatchBytes) why = "larger than 24 MiB, the upload limit";
    if (why) {
      std::fprintf(stderr, "[%zu/%zu] %s: %s\n", index, files.size(), path.c_str(), why);
      ++failed;
      continue;
    }
    if (batch_bytes + p.bytes.size() > kMaxBatchBytes && !batches.back().empty()) {
      batches.emplace_back();
      batch_bytes = 0;
    }
    batch_bytes += p.bytes.size();
    batches.back().push_back(std::move(p));
  }
  std::mt19937_64 rng(std::random_device{}());
  const std::string boundary = "deepkb-" + std::to_string(rng());
  const size_t total = files.size() - static_cast<size_t>(failed);
  size_t offset = 0;
  for (const auto& batch : batches) {
    if (batch.empty()) continue;
    std::string target = "/v1/kb/" + kb + "/documents" + (async ? "?async=true" : "");
    json out;
    int status = 0;
    bool ok = call_raw(s, "POST", target, multipart_body(batch, boundary),
                       "multipart/form-data; boundary=" + boundary, &out, &status);
    if (!ok) {
      if (status == 0) return 1;  // no server
      failed += static_cast<int>(batch.size());
      offset += batch.size();
      continue;
    }
    if (out.contains("rejected")) {
      for (const auto& r : out["rejected"]) print_file(++offset, total, r.value("id", ""), r);
      failed += static_cast<int>(out["rejected"].size());
    }
    if (out.contains("job")) {
      int f = follow_job(s, kb, out["job"], offset, total);
      if (f < 0) return 1;
      failed += f;
      offset += out["job"]["files"].size();
    } else {
      for (const auto& r : out["results"]) print_file(++offset, total, batch[0].path, r);
    }
  }
  return failed ? 1 : 0;
}

}  // namespace dkb::cli
