// kb::Ingestor: parse → chunk → embed (batched, through kb::Embedder) → store, per document.
//
// Each ingest is all-or-nothing: any failure (malformed input, embedder error, store error)
// returns a Status and leaves the store unchanged. The content hash covers format, title,
// metadata and content, and is checked before chunking/embedding, so re-adding an unchanged
// document costs one lookup and returns PutOutcome::kUnchanged. A changed document replaces
// its chunks atomically (Store::put_document).
// Without an Embedder, chunks are stored without vectors (full-text search still works).
// Chunk budgets are counted with the Embedder's tokenizer when it has one (and capped at what
// it embeds without truncation), unless options.chunker.count_tokens is set; otherwise with
// approx_token_count.
// Ownership: borrows Store and Embedder; both must outlive the Ingestor.
// Thread-safety: ingest() may run concurrently if the Store and Embedder allow it (ours do).
// Errors: kInvalidArgument (empty, oversize, invalid UTF-8, bad front matter, unsupported
// format), kNotFound (collection), plus whatever the Embedder/Store report.
#pragma once

#include <string>
#include <vector>

#include "kb/chunker.h"
#include "kb/embedder.h"
#include "kb/parsers.h"
#include "kb/store.h"

namespace dkb::kb {

struct IngestOptions {
  ChunkerOptions chunker;
  size_t max_document_bytes = 64u << 20;
};

struct IngestRequest {
  std::string collection;
  std::string document_id;
  std::string content;  // raw bytes of the file
  Format format = Format::kText;
  std::string source;              // path or URL, informational
  std::string title;               // overrides the parsed title when non-empty
  Json metadata = Json::object();  // merged over parsed metadata (front matter)
};

class Ingestor {
 public:
  Ingestor(Store& store, Embedder* embedder, IngestOptions options = {})
      : store_(store), embedder_(embedder), options_(std::move(options)) {}

  Result<PutResult> ingest(const IngestRequest& request);
  // Like ingest() for a document the caller has parsed already (vault notes), storing `links`
  // with it. request.content is still what the content hash covers.
  Result<PutResult> ingest_parsed(const IngestRequest& request, ParsedDocument doc,
                                  std::vector<DocumentLink> links);
  // Reads `path`, detects the format from its extension and magic bytes (detect_format);
  // document id defaults to the path.
  Result<PutResult> ingest_file(const std::string& collection, const std::string& path,
                                std::string document_id = {});
  // Ingests each file independently: one that fails is reported (results[i]) and the others
  // still go in.
  std::vector<Result<PutResult>> ingest_files(const std::string& collection,
                                              const std::vector<std::string>& paths);

 private:
  Store& store_;
  Embedder* embedder_;
  IngestOptions options_;
};

}  // namespace dkb::kb
