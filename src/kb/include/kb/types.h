// Core records of the knowledge base: collections → documents → chunks (issue #6).
//
// Plain value types, freely copyable; no thread-safety concerns of their own. Metadata is a
// JSON object whose values are strings, numbers, booleans or arrays of those (Chroma's model).
// Vectors are float32, one per chunk, of the collection's dimension (0 = no vectors yet).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dkb::kb {

using Json = nlohmann::json;

// Similarity used by vector search. Scores are "higher is better" for all three:
// cosine similarity, inner product, and negated squared L2 distance.
enum class Metric { kCosine, kInnerProduct, kL2 };

struct Collection {
  int64_t id = 0;    // store-assigned
  std::string name;  // unique, 1..128 bytes of [A-Za-z0-9._-]
  Json metadata = Json::object();
  uint32_t dimension = 0;  // embedding dimension; 0 until the first vector is stored
};

// A link written in a document (vault notes: [[target#heading|alias]], ![[embed]], Logseq
// [[page]] and #[[tag]]). Stored as written; resolution to a document happens when the graph
// is read (link_graph.h), so a link to a note added later resolves then.
struct DocumentLink {
  std::string target;   // note name or path as written, e.g. "Projects/Plan" (non-empty)
  std::string heading;  // after '#': a heading or "^block-id"; empty when none
  std::string alias;    // after '|': the displayed text; empty when none
  bool embed = false;   // ![[...]]
  bool operator==(const DocumentLink&) const = default;
};

struct Document {
  std::string id;          // caller-chosen, unique within its collection (1..512 bytes)
  std::string collection;  // collection name
  std::string source;      // where it came from (path, URL); informational
  std::string title;
  std::string content_hash;  // hex; equal hash ⇒ re-adding is a no-op
  Json metadata = Json::object();
  int64_t n_chunks = 0;  // filled by the store on reads
  // Outgoing links, replaced with the document on every put (committed in the same
  // transaction). Reads leave this empty; Store::list_links() returns them.
  std::vector<DocumentLink> links;
};

struct Chunk {
  int64_t id = 0;           // store-assigned, unique across the store; 0 before insertion
  std::string document_id;  // filled by the store on reads
  int32_t ordinal = 0;      // 0-based position within the document
  std::string text;
  std::vector<std::string> heading_path;  // e.g. {"Install", "Linux"}; empty at top level
  int32_t page = 0;                       // 1-based page for paged formats, 0 when not applicable
  int64_t start_offset = 0;               // byte range of the chunk in the parsed document text
  int64_t end_offset = 0;
  Json metadata = Json::object();  // document metadata merged with chunk-specific keys
  std::vector<float> vector;       // empty = no embedding
};

// One search result. `score` is higher-is-better in every mode.
struct SearchHit {
  int64_t chunk_id = 0;
  std::string document_id;
  int32_t ordinal = 0;
  std::string text;
  std::string highlighted;  // text with matches wrapped (full-text hits only)
  std::vector<std::string> heading_path;
  int32_t page = 0;
  Json metadata = Json::object();
  double score = 0;
};

}  // namespace dkb::kb
