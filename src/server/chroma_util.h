// Helpers shared by the Chroma-compatible routes (chroma_collection_routes.cpp,
// chroma_record_routes.cpp, chroma_read_routes.cpp).
//
// Mapping onto kb (issue #6): a Chroma collection of the default tenant and database is a kb
// collection; a Chroma record (id, embedding, metadata, document) is one kb document with
// exactly one chunk whose text is the record's document and whose vector is its embedding.
// Chroma collection ids are UUIDs, kept in the collection's metadata under the reserved key
// kIdKey (hidden from Chroma responses, assigned on first use to collections created through
// the native API). Errors use Chroma's body {"error": "<Kind>Error", "message": "..."} with
// the status from the one ErrorCode → HTTP mapping (route_util.h).
// Thread-safety: all functions may be called concurrently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kb/store.h"
#include "route_util.h"

namespace dkb::server::chroma {

inline constexpr const char* kTenant = "default_tenant";
inline constexpr const char* kDatabase = "default_database";
inline constexpr const char* kIdKey = "dkb:chroma_id";
inline constexpr const char* kVersion = "1.0.0";
inline constexpr size_t kMaxBatch = 4096;  // records per add/upsert/update (pre-flight-checks)

http::Response error(const Status& s);
http::Response ok(const json& body);

// A random (version 4) UUID in canonical lowercase form.
std::string new_uuid();
bool looks_like_uuid(const std::string& s);

// Finds a collection by its Chroma UUID or, failing that, by name; kNotFound otherwise.
// The returned collection always carries its UUID in metadata[kIdKey].
Result<kb::Collection> find_collection(kb::Store& store, const std::string& name_or_id);
// Makes sure `c` has a UUID (persisting a new one when it has none) and returns it.
Result<std::string> ensure_uuid(kb::Store& store, kb::Collection& c);

// Metadata without the reserved keys; null when nothing is left (Chroma's "no metadata").
json public_metadata(const json& metadata);
// The collection as Chroma's Collection model.
json collection_json(const kb::Collection& c);

// Distance space from metadata "hnsw:space" (default l2, as in Chroma); kInvalidArgument for
// an unknown one.
Result<kb::Metric> metric_of(const kb::Collection& c);
// Chroma distance (lower is better) from kb's higher-is-better vector score.
double distance_from_score(double score, kb::Metric metric);

// Optional typed fields of a request body: absent or null → nullopt.
Result<std::optional<std::vector<std::string>>> get_ids(const json& body, const char* key);
Result<std::optional<std::vector<std::vector<float>>>> get_embeddings(const json& body,
                                                                      const char* key);
// "include" as a set of names, validated against `allowed`; `def` when absent.
Result<std::vector<std::string>> get_include(const json& body,
                                             const std::vector<std::string>& allowed,
                                             const std::vector<std::string>& def);
bool has(const std::vector<std::string>& include, const char* name);
// The records (one hit per document id: its first matching chunk) of the collection that
// match both filters (null = no filter), without vectors, ordered by record id.
Result<std::vector<kb::SearchHit>> matching_records(kb::Store& store, const std::string& collection,
                                                    const json& where, const json& where_document);

// where / where_document: null when absent; compiled once to report a bad filter as 400.
Result<json> get_where(const json& body, const char* key);

}  // namespace dkb::server::chroma
