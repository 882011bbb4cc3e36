#include "kb/ingestor.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "kb/filter.h"
#include "kb/hash.h"

namespace dkb::kb {
namespace {

std::string first_heading(const std::vector<ChunkDraft>& chunks) {
  for (const auto& c : chunks) {
    if (!c.heading_path.empty()) return c.heading_path.front();
  }
  return {};
}

}  // namespace

Result<PutResult> Ingestor::ingest(const IngestRequest& req) {
  auto fail = [&](const Status& s) { return s.with_context("ingesting " + req.document_id); };
  if (req.content.size() > options_.max_document_bytes) {
    return fail(invalid_argument("document is " + std::to_string(req.content.size()) +
                                 " bytes, over the limit of " +
                                 std::to_string(options_.max_document_bytes)));
  }
  Status meta_ok = validate_metadata(req.metadata);
  if (!meta_ok.is_ok()) return fail(meta_ok);
  auto parsed = parse_document(req.content, req.format);
  if (!parsed.is_ok()) return fail(parsed.status());
  return ingest_parsed(req, std::move(parsed).value(), {});
}

Result<PutResult> Ingestor::ingest_parsed(const IngestRequest& req, ParsedDocument doc,
                                          std::vector<DocumentLink> links) {
  auto fail = [&](const Status& s) { return s.with_context("ingesting " + req.document_id); };
  if (req.content.size() > options_.max_document_bytes) {
    return fail(invalid_argument("document is " + std::to_string(req.content.size()) +
                                 " bytes, over the limit of " +
                                 std::to_string(options_.max_document_bytes)));
  }
  Status meta_ok = validate_metadata(req.metadata);
  if (!meta_ok.is_ok()) return fail(meta_ok);
  Document record;
  record.links = std::move(links);
  record.id = req.document_id;
  record.collection = req.collection;
  record.source = req.source;
  record.metadata = doc.metadata;
  for (auto it = req.metadata.begin(); it != req.metadata.end(); ++it)
    record.metadata[it.key()] = it.value();
  record.title = req.title.empty() ? doc.title : req.title;
  record.content_hash =
      content_hash({format_name(req.format), record.title, record.metadata.dump(), req.content});

  auto existing = store_.get_document(req.collection, req.document_id);
  if (existing.is_ok() && existing->content_hash == record.content_hash) {
    return PutResult{PutOutcome::kUnchanged, {}, {}};
  }
  if (!existing.is_ok() && existing.status().code() != ErrorCode::kNotFound) {
    return fail(existing.status());
  }

  ChunkerOptions copts = options_.chunker;
  if (embedder_ && !copts.count_tokens) {
    copts.count_tokens = embedder_->token_counter();
    const size_t cap = embedder_->max_input_tokens();
    if (copts.count_tokens && cap > 0 && copts.max_tokens > cap) {
      copts.max_tokens = cap;
      copts.overlap_tokens = std::min(copts.overlap_tokens, cap / 4);
    }
  }
  copts.markdown = doc.markdown;
  std::vector<ChunkDraft> drafts = chunk_text(doc.text, copts);
  if (drafts.empty()) return fail(invalid_argument("document has no text"));
  if (record.title.empty()) record.title = first_heading(drafts);

  std::vector<Chunk> chunks(drafts.size());
  for (size_t i = 0; i < drafts.size(); ++i) {
    chunks[i].ordinal = static_cast<int32_t>(i);
    chunks[i].text = std::move(drafts[i].text);
    chunks[i].heading_path = std::move(drafts[i].heading_path);
    chunks[i].start_offset = static_cast<int64_t>(drafts[i].start);
    chunks[i].end_offset = static_cast<int64_t>(drafts[i].end);
    chunks[i].page = drafts[i].page;
    if (doc.paged && chunks[i].page == 0) chunks[i].page = 1;  // one page: no form feed
  }
  if (!doc.row_starts.empty()) {
    // CSV: the 1-based data rows each chunk covers, for filters such as row_start <= 10.
    for (Chunk& c : chunks) {
      auto first = std::upper_bound(doc.row_starts.begin(), doc.row_starts.end(),
                                    static_cast<size_t>(c.start_offset));
      auto last = std::lower_bound(doc.row_starts.begin(), doc.row_starts.end(),
                                   static_cast<size_t>(c.end_offset));
      c.metadata["row_start"] = first - doc.row_starts.begin();
      c.metadata["row_end"] = last - doc.row_starts.begin();
    }
  }
  if (embedder_ != nullptr) {
    size_t batch = std::max<size_t>(embedder_->max_batch(), 1);
    for (size_t b = 0; b < chunks.size(); b += batch) {
      size_t n = std::min(batch, chunks.size() - b);
      std::vector<std::string> texts;
      texts.reserve(n);
      for (size_t i = 0; i < n; ++i) texts.push_back(chunks[b + i].text);
      auto vecs = embedder_->embed(texts);
      if (!vecs.is_ok()) return fail(vecs.status().with_context("embedding"));
      if (vecs->size() != n)
        return fail(internal_error("embedder returned the wrong number of vectors"));
      for (size_t i = 0; i < n; ++i) {
        if ((*vecs)[i].size() != embedder_->dimension()) {
          return fail(internal_error("embedder returned a vector of the wrong dimension"));
        }
        chunks[b + i].vector = std::move((*vecs)[i]);
      }
    }
  }
  auto put = store_.put_document(record, chunks);
  if (!put.is_ok()) return fail(put.status());
  return put;
}

Result<PutResult> Ingestor::ingest_file(const std::string& collection, const std::string& path,
                                        std::string document_id) {
  DKB_RETURN_IF_ERROR(format_from_path(path).status());  // unsupported extension: say so first
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return io_error("reading " + path);
  IngestRequest req;
  req.collection = collection;
  req.document_id = document_id.empty() ? path : std::move(document_id);
  req.content = std::move(ss).str();
  // The extension named a supported format; the bytes must agree (a "PDF" without %PDF-).
  DKB_ASSIGN_OR_RETURN(req.format, detect_format(path, "", req.content));
  req.source = path;
  return ingest(req);
}

std::vector<Result<PutResult>> Ingestor::ingest_files(const std::string& collection,
                                                      const std::vector<std::string>& paths) {
  std::vector<Result<PutResult>> out;
  out.reserve(paths.size());
  for (const auto& p : paths) out.push_back(ingest_file(collection, p));
  return out;
}

}  // namespace dkb::kb
