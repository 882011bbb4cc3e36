// deepkb kb import-vault KB DIR: syncs an Obsidian/Logseq folder into a knowledge base.
// The CLI reads the folder and sends the notes; the server never reads client paths (it may
// run as another user) — see kb/vault_sync.h for the two-step protocol.
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "commands.h"
#include "kb/vault_sync.h"
#include "kb_client.h"

namespace dkb::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr size_t kBatchNotes = 200;
constexpr size_t kBatchBytes = 8u << 20;

// Notes of the vault: *.md files, skipping hidden files and folders (.obsidian, .trash, .git)
// and Logseq's backups (logseq/bak).
Status collect_notes(const fs::path& root, std::vector<std::pair<std::string, fs::path>>* out) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return not_found("vault folder " + root.string() + " does not exist");
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) return io_error("reading " + root.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return io_error("reading " + root.string() + ": " + ec.message());
    std::string name = it->path().filename().string();
    std::string rel = fs::relative(it->path(), root, ec).generic_string();
    if (name.starts_with(".") || rel == "logseq/bak") {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || !(rel.ends_with(".md") || rel.ends_with(".markdown"))) continue;
    out->emplace_back(rel, it->path());
  }
  std::sort(out->begin(), out->end());
  return Status::ok();
}

}  // namespace

int kb_import_vault(const ServerOpts& s, const std::string& kb, const std::string& dir,
                    bool keep_deleted) {
  std::vector<std::pair<std::string, fs::path>> notes;
  Status st = collect_notes(dir, &notes);
  if (!st.is_ok()) return fail(st.message());
  json manifest = json::array();
  std::map<std::string, std::string> contents;
  int failed = 0;
  for (const auto& [rel, path] : notes) {
    std::string bytes;
    if (!read_file_bytes(path.string(), &bytes)) {
      std::fprintf(stderr, "%s: cannot read\n", rel.c_str());
      ++failed;
      continue;
    }
    manifest.push_back({{"path", rel}, {"hash", kb::vault_file_hash(bytes)}});
    contents[rel] = std::move(bytes);
  }
  json plan;
  if (!call(s, "POST", "/v1/kb/" + kb + "/vault/sync",
            {{"notes", manifest}, {"delete_missing", !keep_deleted}}, &plan)) {
    return 1;
  }
  const json& upload = plan["upload"];
  const bool tty = isatty(STDERR_FILENO) != 0;
  size_t done = 0, links = 0, chunks = 0, stored = 0;
  size_t i = 0;
  while (i < upload.size()) {
    json batch = json::array();
    size_t bytes = 0;
    while (i < upload.size() && batch.size() < kBatchNotes &&
           (batch.empty() || bytes + contents[upload[i].get<std::string>()].size() <= kBatchBytes)) {
      const std::string path = upload[i++].get<std::string>();
      bytes += contents[path].size();
      batch.push_back({{"path", path}, {"text", std::move(contents[path])}});
    }
    json out;
    int status = 0;
    call_raw(s, "POST", "/v1/kb/" + kb + "/vault/notes", json{{"notes", batch}}.dump(),
             "application/json", &out, &status);
    if (status == 0) return 1;
    if (!out.is_object() || !out.contains("results")) {
      failed += static_cast<int>(batch.size());
      done += batch.size();
      continue;
    }
    for (const auto& r : out["results"]) {
      ++done;
      if (r.value("status", "") == "error") {
        if (tty) std::fprintf(stderr, "\n");
        std::fprintf(stderr, "%s: %s\n", r.value("path", "?").c_str(), r.value("error", "").c_str());
        ++failed;
      } else {
        ++stored;
        links += r.value("links", size_t{0});
        chunks += r.value("chunks", size_t{0});
        if (!tty) std::printf("[%zu/%zu] %s: %s\n", done, upload.size(), r.value("path", "").c_str(),
                              r.value("status", "").c_str());
      }
    }
    if (tty) {
      std::fprintf(stderr, "\r%zu/%zu notes sent ", done, upload.size());
      std::fflush(stderr);
    }
  }
  if (tty && !upload.empty()) std::fprintf(stderr, "\n");
  for (const auto& d : plan["deleted"]) std::printf("deleted %s\n", d.get<std::string>().c_str());
  std::printf("vault %s → %s: %zu notes, %zu new or changed (%zu chunks, %zu links), %zu unchanged, %zu deleted, %d failed\n",
              dir.c_str(), kb.c_str(), notes.size(), stored, chunks, links, plan.value("unchanged", size_t{0}), plan["deleted"].size(), failed);
  return failed ? 1 : 0;
}

}  // namespace dkb::cli
