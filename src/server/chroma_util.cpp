#include "chroma_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <random>
#include <set>

#include "kb/filter.h"

namespace dkb::server::chroma {

namespace {

// Chroma's error kinds: its server names InvalidArgumentError, NotFoundError and
// InternalError; the others are the Python client's exception names (Chroma's own server
// says "ChromaError" there). The JavaScript client picks its error class from the status
// and shows "message".
const char* error_kind(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "InvalidArgumentError";
    case ErrorCode::kNotFound:
      return "NotFoundError";
    case ErrorCode::kAlreadyExists:
      return "UniqueConstraintError";
    case ErrorCode::kUnauthenticated:
      return "AuthenticationError";
    case ErrorCode::kPermissionDenied:
      return "AuthorizationError";
    case ErrorCode::kCorruption:
    case ErrorCode::kIOError:
    case ErrorCode::kInternal:
      return "InternalError";
    default:
      return "ChromaError";
  }
}

// Serializes UUID assignment so two concurrent first uses agree on one id.
std::mutex& uuid_mutex() {
  static std::mutex mu;
  return mu;
}

std::string uuid_of(const kb::Collection& c) {
  auto it = c.metadata.find(kIdKey);
  return it != c.metadata.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

http::Response error(const Status& s) {
  auto r = json_response(http_status_for(s),
                         {{"error", error_kind(s.code())}, {"message", s.message()}});
  if (r.status == 503) r.headers.push_back({"Retry-After", "1"});
  if (r.status == 401) r.headers.push_back({"WWW-Authenticate", "Bearer"});
  return r;
}

http::Response ok(const json& body) {
  return json_response(200, body);
}

std::string new_uuid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;              // version 4
  lo = (lo & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

bool looks_like_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

Result<std::string> ensure_uuid(kb::Store& store, kb::Collection& c) {
  std::string id = uuid_of(c);
  if (!id.empty()) return id;
  std::lock_guard lock(uuid_mutex());
  // Re-read under the lock: another request may have assigned one meanwhile.
  DKB_ASSIGN_OR_RETURN(kb::Collection fresh, store.get_collection(c.name));
  id = uuid_of(fresh);
  if (id.empty()) {
    id = new_uuid();
    fresh.metadata[kIdKey] = id;
    DKB_RETURN_IF_ERROR(store.update_collection_metadata(c.name, fresh.metadata));
  }
  c.metadata = fresh.metadata;
  return id;
}

Result<kb::Collection> find_collection(kb::Store& store, const std::string& name_or_id) {
  if (looks_like_uuid(name_or_id)) {
    DKB_ASSIGN_OR_RETURN(auto all, store.list_collections());
    std::string want = name_or_id;
    for (char& ch : want) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (auto& c : all) {
      if (uuid_of(c) == want) return c;
    }
  }
  auto c = store.get_collection(name_or_id);
  if (!c.is_ok()) {
    if (c.status().code() == ErrorCode::kNotFound ||
        c.status().code() == ErrorCode::kInvalidArgument) {
      return not_found("Collection [" + name_or_id + "] does not exist");
    }
    return c.status();
  }
  DKB_RETURN_IF_ERROR(ensure_uuid(store, *c).status());
  return c;
}

json public_metadata(const json& metadata) {
  if (!metadata.is_object()) return nullptr;
  json out = json::object();
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    if (it.key() != kIdKey) out[it.key()] = it.value();
  }
  if (out.empty()) return nullptr;
  return out;
}

json collection_json(const kb::Collection& c) {
  std::string space = "l2";
  auto it = c.metadata.find("hnsw:space");
  if (it != c.metadata.end() && it->is_string()) space = it->get<std::string>();
  return {{"id", uuid_of(c)},
          {"name", c.name},
          {"metadata", public_metadata(c.metadata)},
          {"dimension", c.dimension ? json(c.dimension) : json(nullptr)},
          {"configuration_json",
           {{"hnsw", {{"space", space}}}, {"spann", nullptr}, {"embedding_function", nullptr}}},
          {"tenant", kTenant},
          {"database", kDatabase},
          {"log_position", 0},
          {"version", 0}};
}

Result<kb::Metric> metric_of(const kb::Collection& c) {
  auto it = c.metadata.find("hnsw:space");
  if (it == c.metadata.end()) return kb::Metric::kL2;
  std::string space = it->is_string() ? it->get<std::string>() : it->dump();
  if (space == "l2") return kb::Metric::kL2;
  if (space == "cosine") return kb::Metric::kCosine;
  if (space == "ip") return kb::Metric::kInnerProduct;
  return invalid_argument("unknown hnsw:space '" + space + "' (l2, cosine, ip)");
}

double distance_from_score(double score, kb::Metric metric) {
  switch (metric) {
    case kb::Metric::kL2:
      return -score;  // score is the negated squared L2 distance
    case kb::Metric::kCosine:
      return 1.0 - score;
    case kb::Metric::kInnerProduct:
      return 1.0 - score;
  }
  return -score;
}

Result<std::optional<std::vector<std::string>>> get_ids(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<std::vector<std::string>>();
  if (!it->is_array())
    return invalid_argument(std::string("'") + key + "' must be an array of strings");
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return invalid_argument(std::string("'") + key + "' must contain non-empty strings");
    }
    std::string id = v.get<std::string>();
    if (id.size() > 512)
      return invalid_argument("ID too long (at most 512 bytes): " + id.substr(0, 64));
    if (!seen.insert(id).second)
      return invalid_argument("Expected IDs to be unique, found duplicates of: " + id);
    ids.push_back(std::move(id));
  }
  return std::optional(std::move(ids));
}

Result<std::optional<std::vector<std::vector<float>>>> get_embeddings(const json& body,
                                                                      const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::optional<std::vector<std::vector<float>>>();
  std::string name = std::string("'") + key + "'";
  if (!it->is_array()) return invalid_argument(name + " must be an array of number arrays");
  std::vector<std::vector<float>> out;
  for (const auto& e : *it) {
    if (!e.is_array() || e.empty())
      return invalid_argument(name + " must contain non-empty number arrays");
    std::vector<float> v;
    v.reserve(e.size());
    for (const auto& x : e) {
      if (!x.is_number()) return invalid_argument(name + " must contain only numbers");
      double d = x.get<double>();
      if (!std::isfinite(d)) return invalid_argument(name + " must contain finite numbers");
      v.push_back(static_cast<float>(d));
    }
    if (!out.empty() && v.size() != out[0].size()) {
      return invalid_argument(name + ": all embeddings must have the same dimension (" +
                              std::to_string(out[0].size()) + " vs " + std::to_string(v.size()) +
                              ")");
    }
    out.push_back(std::move(v));
  }
  return std::optional(std::move(out));
}

Result<std::vector<std::string>> get_include(const json& body,
                                             const std::vector<std::string>& allowed,
                                             const std::vector<std::string>& def) {
  auto it = body.find("include");
  if (it == body.end() || it->is_null()) return def;
  if (!it->is_array()) return invalid_argument("'include' must be an array of strings");
  std::vector<std::string> out;
  for (const auto& v : *it) {
    std::string s = v.is_string() ? v.get<std::string>() : v.dump();
    bool known = false;
    for (const auto& a : allowed) known = known || a == s;
    if (!known) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return invalid_argument("'include' may only contain " + list + "; got '" + s + "'");
    }
    out.push_back(s);
  }
  return out;
}

bool has(const std::vector<std::string>& include, const char* name) {
  for (const auto& s : include) {
    if (s == name) return true;
  }
  return false;
}

Result<std::vector<kb::SearchHit>> matching_records(kb::Store& store, const std::string& collection,
                                                    const json& where, const json& where_document) {
  DKB_ASSIGN_OR_RETURN(auto ids, store.filter_chunk_ids(collection, where, where_document));
  DKB_ASSIGN_OR_RETURN(auto hits, store.get_hits(ids));
  std::set<std::string> seen;
  std::vector<kb::SearchHit> out;
  for (auto& h : hits) {
    if (seen.insert(h.document_id).second) out.push_back(std::move(h));
  }
  // Ordered by record id: stable under updates (a re-put record gets new chunk ids), so
  // limit/offset pagination neither skips nor repeats records.
  std::sort(out.begin(), out.end(), [](const kb::SearchHit& a, const kb::SearchHit& b) {
    return a.document_id < b.document_id;
  });
  return out;
}

Result<json> get_where(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return json(nullptr);
  if (!it->is_object()) return invalid_argument(std::string("'") + key + "' must be an object");
  if (it->empty()) return json(nullptr);
  Status s = std::strcmp(key, "where") == 0 ? kb::compile_where(*it, "m").status()
                                            : kb::compile_where_document(*it, "t").status();
  if (!s.is_ok()) return s.with_context(std::string("invalid '") + key + "'");
  return *it;
}

}  // namespace dkb::server::chroma
