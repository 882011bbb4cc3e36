// Knowledge-base uploads and ingestion jobs (native API, issue #6):
//   POST /v1/kb/{kb}/documents   multipart/form-data: one part per file (the part's filename
//        is the document id, its format from the name, Content-Type and magic bytes), plus
//        optional fields "metadata" (a JSON object for every file) and "id" (one file only).
//        Several files, more than kAsyncBytes in all, or ?async=true → 202 with a job;
//        otherwise the one file is ingested at once (200, or the parse error as 4xx).
//        JSON bodies ({documents: [...]}, kb_routes.cpp) also take ?async=true.
//   GET  /v1/kb/{kb}/jobs        jobs of the collection, newest first
//   GET  /v1/kb/{kb}/jobs/{id}   one job: state, files done/total, chunks, per-file results
// Jobs run on kb::IngestJobs' background thread; request threads only queue them.
#include <nlohmann/json.hpp>

#include "kb/parsers.h"
#include "multipart.h"
#include "route_util.h"
#include "routes.h"

namespace dkb::server {
namespace {

constexpr size_t kAsyncBytes = 4u << 20;

}  // namespace

json job_json(const kb::JobStatus& j) {
  json files = json::array();
  for (const auto& f : j.files) {
    json fj = {{"id", f.document_id}, {"status", f.status}, {"chunks", f.chunks}};
    if (!f.error.empty()) fj["error"] = f.error;
    files.push_back(std::move(fj));
  }
  return {{"id", j.id},
          {"collection", j.collection},
          {"state", kb::job_state_name(j.state)},
          {"files_total", j.files_total},
          {"files_done", j.files_done},
          {"files_failed", j.files_failed},
          {"chunks", j.chunks},
          {"files", files},
          {"created_ms", j.created_unix_ms},
          {"finished_ms", j.finished_unix_ms}};
}

void respond_job_accepted(App& app, const std::string& kb_name,
                          std::vector<kb::IngestRequest> requests, http::Responder& resp,
                          const json& rejected) {
  auto job = app.kb_jobs()->submit(kb_name, std::move(requests));
  if (!job.is_ok()) return resp.respond(error_response(job.status()));
  json body = {{"job", job_json(*job)}};
  if (!rejected.empty()) body["rejected"] = rejected;
  http::Response r = json_response(202, body);
  r.headers.emplace_back("Location", "/v1/kb/" + kb_name + "/jobs/" + job->id);
  resp.respond(std::move(r));
}

void handle_kb_upload(App& app, const std::string& kb_name, const http::Request& req,
                      http::Responder& resp) {
  auto coll = app.kb_store()->get_collection(kb_name);
  if (!coll.is_ok()) return resp.respond(error_response(coll.status()));
  auto parts = parse_multipart(req.header("Content-Type"), req.body);
  if (!parts.is_ok()) return resp.respond(error_response(parts.status()));
  json metadata = json::object();
  std::string id_override;
  std::vector<const MultipartPart*> files;
  for (const MultipartPart& p : *parts) {
    if (!p.filename.empty()) {
      files.push_back(&p);
    } else if (p.name == "metadata") {
      metadata = json::parse(p.body, nullptr, false);
      if (!metadata.is_object()) {
        return resp.respond(error_response(invalid_argument("field 'metadata' must be a JSON object")));
      }
    } else if (p.name == "id") {
      id_override = std::string(p.body);
    } else if (p.name == "file" || p.name == "files") {
      return resp.respond(error_response(invalid_argument("file part '" + p.name + "' has no filename")));
    } else {
      return resp.respond(error_response(invalid_argument("unknown form field '" + p.name +
                                                          "' (file parts, metadata, id)")));
    }
  }
  if (files.empty()) return resp.respond(error_response(invalid_argument("no file parts in the upload")));
  if (!id_override.empty() && files.size() != 1) {
    return resp.respond(error_response(invalid_argument("field 'id' needs exactly one file")));
  }
  // Detection errors are reported per file like parse errors; the other files still go in.
  std::vector<kb::IngestRequest> requests;
  json results = json::array();
  size_t total = 0;
  for (const MultipartPart* f : files) {
    kb::IngestRequest ir;
    ir.collection = kb_name;
    ir.document_id = id_override.empty() ? f->filename : id_override;
    ir.source = f->filename;
    ir.metadata = metadata;
    auto fmt = kb::detect_format(f->filename, f->content_type, f->body);
    if (!fmt.is_ok() && files.size() > 1) {
      // In a batch, a file whose bytes contradict its name still goes to the job under the
      // named format, so its parse error is reported there with the other files.
      fmt = kb::format_from_path(f->filename);
    }
    if (!fmt.is_ok()) {
      if (files.size() == 1) return resp.respond(error_response(fmt.status()));
      results.push_back({{"id", ir.document_id}, {"status", "error"}, {"error", fmt.status().message()}});
      continue;
    }
    ir.format = *fmt;
    ir.content = std::string(f->body);
    total += ir.content.size();
    requests.push_back(std::move(ir));
  }
  bool async = req.query.count("async") && req.query.at("async") != "false" && req.query.at("async") != "0";
  if (requests.empty()) {
    return resp.respond(json_response(400, {{"results", results}, {"error", {{"message", "no file could be read"}}}}));
  }
  if (async || files.size() > 1 || total > kAsyncBytes) {
    return respond_job_accepted(app, kb_name, std::move(requests), resp, results);
  }
  auto put = app.kb_ingestor()->ingest(requests[0]);
  if (!put.is_ok()) return resp.respond(error_response(put.status()));
  json r = {{"id", requests[0].document_id},
            {"format", kb::format_name(requests[0].format)},
            {"status", put->outcome == kb::PutOutcome::kInserted   ? "inserted"
                       : put->outcome == kb::PutOutcome::kReplaced ? "replaced"
                                                                   : "unchanged"},
            {"chunks", put->added_chunk_ids.size()}};
  json out = {{"results", json::array({r})}, {"embeddings", app.kb_embedder() != nullptr}};
  if (!app.kb_embedder()) out["note"] = "no embedding model configured: documents are searchable by full text only";
  resp.respond(json_response(200, out));
}

void handle_kb_jobs(App& app, const std::string& kb_name, const std::vector<std::string>& parts,
                    const http::Request& req, http::Responder& resp) {
  if (req.method != "GET") {
    auto r = error_response(invalid_argument("method " + req.method + " not allowed on " + req.path));
    r.status = 405;
    return resp.respond(r);
  }
  auto coll = app.kb_store()->get_collection(kb_name);
  if (!coll.is_ok()) return resp.respond(error_response(coll.status()));
  if (parts.size() == 4) {
    json data = json::array();
    for (const auto& j : app.kb_jobs()->list(kb_name)) data.push_back(job_json(j));
    return resp.respond(json_response(200, {{"data", data}}));
  }
  if (parts.size() != 5) return resp.respond(error_response(not_found("no route for GET " + req.path)));
  auto job = app.kb_jobs()->get(kb_name, parts[4]);
  if (!job.is_ok()) return resp.respond(error_response(job.status()));
  resp.respond(json_response(200, job_json(*job)));
}

}  // namespace dkb::server
