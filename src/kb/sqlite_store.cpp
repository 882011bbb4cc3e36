#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "base/utf8.h"
#include "fts5_tokenizer.h"
#include "kb/filter.h"
#include "kb/hash.h"
#include "sqlite_functions.h"
#include "sqlite_store_impl.h"

namespace dkb::kb {

static_assert(std::endian::native == std::endian::little,
              "vector BLOBs are stored little-endian as the host's floats");

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE collections(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  metadata TEXT NOT NULL DEFAULT '{}',
  dimension INTEGER NOT NULL DEFAULT 0);
CREATE TABLE documents(
  id INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  ext_id TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  content_hash TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  UNIQUE(collection_id, ext_id));
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY,
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  collection_id INTEGER NOT NULL,
  ordinal INTEGER NOT NULL,
  text TEXT NOT NULL,
  heading_path TEXT NOT NULL DEFAULT '[]',
  page INTEGER NOT NULL DEFAULT 0,
  start_offset INTEGER NOT NULL DEFAULT 0,
  end_offset INTEGER NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL DEFAULT '{}',
  vector BLOB,
  UNIQUE(document_id, ordinal));
CREATE INDEX chunks_by_collection ON chunks(collection_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(text, content='chunks', content_rowid='id',
                                           tokenize='dkb_cjk');
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER chunks_au AFTER UPDATE OF text ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
)sql";

Status validate_name(std::string_view name) {
  if (name.empty() || name.size() > 128)
    return invalid_argument("collection name must be 1..128 bytes");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok)
      return invalid_argument("collection name may only use [A-Za-z0-9._-]: " + std::string(name));
  }
  return Status::ok();
}

Result<int64_t> pragma_int(sqlite3* db, const char* sql_text) {
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db, sql_text));
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.col_int(0) : int64_t{0};
}

Status validate_document(const Document& doc, const std::vector<Chunk>& chunks) {
  if (doc.id.empty() || doc.id.size() > 512)
    return invalid_argument("document id must be 1..512 bytes");
  for (const std::string* s : {&doc.id, &doc.source, &doc.title}) {
    if (!utf8::is_valid(*s)) return invalid_argument("document fields must be valid UTF-8");
  }
  DKB_RETURN_IF_ERROR(validate_metadata(doc.metadata));
  for (const Chunk& c : chunks) {
    if (!utf8::is_valid(c.text)) return invalid_argument("chunk text is not valid UTF-8");
    DKB_RETURN_IF_ERROR(validate_metadata(c.metadata));
    for (float f : c.vector) {
      if (!std::isfinite(f)) return invalid_argument("vector contains NaN or infinity");
    }
  }
  return Status::ok();
}

}  // namespace

Result<Json> parse_json_column(const std::string& text, std::string_view what) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return corruption("stored " + std::string(what) + " is not valid JSON");
  return j;
}

SqliteStore::~SqliteStore() {
  sqlite3_close_v2(db_);
  if (lock_fd_ >= 0) {
    flock(lock_fd_, LOCK_UN);
    close(lock_fd_);
  }
}

Status SqliteStore::init_schema() {
  // Must run before the first write of a new file: auto_vacuum cannot be changed later
  // without a full VACUUM.
  DKB_ASSIGN_OR_RETURN(int64_t app_id, pragma_int(db_, "PRAGMA application_id"));
  DKB_ASSIGN_OR_RETURN(int64_t version, pragma_int(db_, "PRAGMA user_version"));
  DKB_ASSIGN_OR_RETURN(int64_t n_tables, pragma_int(db_, "SELECT count(*) FROM sqlite_master"));
  if (app_id == 0 && version == 0 && n_tables == 0) {
    DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA auto_vacuum=INCREMENTAL"));
    DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA journal_mode=WAL"));
    sql::Tx tx(db_);
    DKB_RETURN_IF_ERROR(tx.begin());
    DKB_RETURN_IF_ERROR(sql::exec(db_, kSchema));
    std::string ids = "PRAGMA application_id=" + std::to_string(kApplicationId) +
                      "; PRAGMA user_version=" + std::to_string(kSchemaVersion);
    DKB_RETURN_IF_ERROR(sql::exec(db_, ids.c_str()));
    DKB_RETURN_IF_ERROR(tx.commit());
  } else if (app_id != kApplicationId) {
    return corruption("not a deepkb knowledge-base database (application_id " +
                      std::to_string(app_id) + ")");
  } else if (version > kSchemaVersion) {
    return failed_precondition("store schema version " + std::to_string(version) +
                               " is newer than this build supports (" +
                               std::to_string(kSchemaVersion) + ")");
  }
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA journal_mode=WAL"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA synchronous=FULL"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA foreign_keys=ON"));
  return Status::ok();
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& dir,
                                                 const SqliteStoreOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (!options.create_if_missing) return not_found("data directory " + dir + " does not exist");
    fs::create_directories(dir, ec);
    if (ec) return io_error("creating data directory " + dir + ": " + ec.message());
  }
  std::string lock_path = dir + "/LOCK";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("opening " + lock_path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      return failed_precondition("data directory " + dir +
                                 " is in use by another deepkb process (lock " + lock_path +
                                 " is held)");
    }
    return io_error("locking " + lock_path + ": " + std::strerror(err));
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is informational; the flock is what matters.
  }
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
              (options.create_if_missing ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2((dir + "/kb.db").c_str(), &db, flags, nullptr);
  auto store = std::make_unique<SqliteStore>(db, fd, dir);  // owns db and fd from here on
  if (rc != SQLITE_OK) return sql::error(db, rc, "opening " + dir + "/kb.db");
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  DKB_RETURN_IF_ERROR(register_fts5_tokenizer(db));
  DKB_RETURN_IF_ERROR(register_sql_functions(db));
  Status s = store->init_schema();
  if (!s.is_ok()) return s.with_context("opening knowledge base in " + dir);
  return std::unique_ptr<Store>(std::move(store));
}

Result<Collection> SqliteStore::create_collection(std::string_view name, const Json& metadata,
                                                  uint32_t dimension) {
  DKB_RETURN_IF_ERROR(validate_name(name));
  DKB_RETURN_IF_ERROR(validate_metadata(metadata));
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(
      auto st,
      sql::Stmt::prepare(db_,
                         "INSERT INTO collections(name, metadata, dimension) VALUES (?, ?, ?) "
                         "ON CONFLICT(name) DO NOTHING"));
  st.bind(1, name).bind(2, metadata.dump()).bind(3, int64_t{dimension});
  DKB_RETURN_IF_ERROR(st.run());
  if (sqlite3_changes(db_) == 0)
    return already_exists("collection " + std::string(name) + " already exists");
  bump_generation(std::string(name));
  return Collection{sqlite3_last_insert_rowid(db_), std::string(name), metadata, dimension};
}

Status SqliteStore::update_collection_metadata(std::string_view name, const Json& metadata) {
  DKB_RETURN_IF_ERROR(validate_metadata(metadata));
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(auto st,
                       sql::Stmt::prepare(db_, "UPDATE collections SET metadata=? WHERE name=?"));
  st.bind(1, metadata.dump()).bind(2, name);
  DKB_RETURN_IF_ERROR(st.run());
  if (sqlite3_changes(db_) == 0) return not_found("collection " + std::string(name) + " not found");
  return Status::ok();
}

Status SqliteStore::delete_collection(std::string_view name) {
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(Collection c, get_collection_locked(name));
  for (const char* q :
       {"DELETE FROM chunks WHERE collection_id=?", "DELETE FROM documents WHERE collection_id=?",
        "DELETE FROM collections WHERE id=?"}) {
    DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_, q));
    st.bind(1, c.id);
    DKB_RETURN_IF_ERROR(st.run());
  }
  DKB_RETURN_IF_ERROR(tx.commit());
  generations_.erase(c.name);
  return Status::ok();
}

Result<PutResult> SqliteStore::put_document(const Document& doc, const std::vector<Chunk>& chunks) {
  DKB_RETURN_IF_ERROR(validate_document(doc, chunks));
  std::string hash = doc.content_hash;
  if (hash.empty()) {
    std::string texts;
    for (const Chunk& c : chunks) texts += c.text + '\x1f';
    hash = content_hash({doc.title, doc.metadata.dump(), texts});
  }
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(doc.collection));

  size_t dim = 0;
  for (const Chunk& c : chunks) {
    if (c.vector.empty()) continue;
    if (dim != 0 && c.vector.size() != dim)
      return invalid_argument("chunk vectors differ in dimension");
    dim = c.vector.size();
  }
  if (dim != 0 && coll.dimension != 0 && dim != coll.dimension) {
    return invalid_argument("embedding dimension " + std::to_string(dim) +
                            " does not match collection " + coll.name + " (dimension " +
                            std::to_string(coll.dimension) + ")");
  }

  PutResult result;
  int64_t doc_row = 0;
  {
    DKB_ASSIGN_OR_RETURN(
        auto st,
        sql::Stmt::prepare(
            db_, "SELECT id, content_hash FROM documents WHERE collection_id=? AND ext_id=?"));
    st.bind(1, coll.id).bind(2, doc.id);
    DKB_ASSIGN_OR_RETURN(bool found, st.step());
    if (found) {
      if (st.col_text(1) == hash) {
        result.outcome = PutOutcome::kUnchanged;
        return result;  // Tx rolls back: nothing was written
      }
      doc_row = st.col_int(0);
      result.outcome = PutOutcome::kReplaced;
    }
  }
  if (dim != 0 && coll.dimension == 0) {
    DKB_ASSIGN_OR_RETURN(auto st,
                         sql::Stmt::prepare(db_, "UPDATE collections SET dimension=? WHERE id=?"));
    st.bind(1, static_cast<int64_t>(dim)).bind(2, coll.id);
    DKB_RETURN_IF_ERROR(st.run());
  }
  if (doc_row != 0) {
    DKB_ASSIGN_OR_RETURN(
        auto ids,
        sql::Stmt::prepare(db_, "SELECT id FROM chunks WHERE document_id=? ORDER BY ordinal"));
    ids.bind(1, doc_row);
    for (;;) {
      DKB_ASSIGN_OR_RETURN(bool row, ids.step());
      if (!row) break;
      result.removed_chunk_ids.push_back(ids.col_int(0));
    }
    DKB_ASSIGN_OR_RETURN(auto del,
                         sql::Stmt::prepare(db_, "DELETE FROM chunks WHERE document_id=?"));
    del.bind(1, doc_row);
    DKB_RETURN_IF_ERROR(del.run());
    DKB_ASSIGN_OR_RETURN(
        auto up,
        sql::Stmt::prepare(
            db_, "UPDATE documents SET source=?, title=?, content_hash=?, metadata=? WHERE id=?"));
    up.bind(1, doc.source)
        .bind(2, doc.title)
        .bind(3, hash)
        .bind(4, doc.metadata.dump())
        .bind(5, doc_row);
    DKB_RETURN_IF_ERROR(up.run());
  } else {
    DKB_ASSIGN_OR_RETURN(
        auto ins,
        sql::Stmt::prepare(
            db_,
            "INSERT INTO documents(collection_id, ext_id, source, title, content_hash, metadata) "
            "VALUES (?, ?, ?, ?, ?, ?)"));
    ins.bind(1, coll.id)
        .bind(2, doc.id)
        .bind(3, doc.source)
        .bind(4, doc.title)
        .bind(5, hash)
        .bind(6, doc.metadata.dump());
    DKB_RETURN_IF_ERROR(ins.run());
    doc_row = sqlite3_last_insert_rowid(db_);
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    Json meta = doc.metadata;
    for (auto it = c.metadata.begin(); it != c.metadata.end(); ++it) meta[it.key()] = it.value();
    DKB_ASSIGN_OR_RETURN(
        auto ins,
        sql::Stmt::prepare(
            db_,
            "INSERT INTO chunks(document_id, collection_id, ordinal, text, heading_path, page, "
            "start_offset, end_offset, metadata, vector) VALUES (?,?,?,?,?,?,?,?,?,?)"));
    ins.bind(1, doc_row)
        .bind(2, coll.id)
        .bind(3, static_cast<int64_t>(i))
        .bind(4, c.text)
        .bind(5, Json(c.heading_path).dump())
        .bind(6, int64_t{c.page})
        .bind(7, c.start_offset)
        .bind(8, c.end_offset)
        .bind(9, meta.dump());
    if (c.vector.empty()) {
      ins.bind_null(10);
    } else {
      ins.bind_blob(10, c.vector.data(), c.vector.size() * sizeof(float));
    }
    DKB_RETURN_IF_ERROR(ins.run());
    result.added_chunk_ids.push_back(sqlite3_last_insert_rowid(db_));
  }
  DKB_RETURN_IF_ERROR(tx.commit());
  bump_generation(coll.name);
  return result;
}

Result<std::vector<int64_t>> SqliteStore::delete_document(std::string_view collection,
                                                          std::string_view doc_id) {
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  DKB_ASSIGN_OR_RETURN(
      auto find,
      sql::Stmt::prepare(db_, "SELECT id FROM documents WHERE collection_id=? AND ext_id=?"));
  find.bind(1, coll.id).bind(2, doc_id);
  DKB_ASSIGN_OR_RETURN(bool found, find.step());
  if (!found) return not_found("document " + std::string(doc_id) + " not found in " + coll.name);
  int64_t doc_row = find.col_int(0);
  std::vector<int64_t> removed;
  DKB_ASSIGN_OR_RETURN(auto ids,
                       sql::Stmt::prepare(db_, "SELECT id FROM chunks WHERE document_id=?"));
  ids.bind(1, doc_row);
  for (;;) {
    DKB_ASSIGN_OR_RETURN(bool row, ids.step());
    if (!row) break;
    removed.push_back(ids.col_int(0));
  }
  for (const char* q :
       {"DELETE FROM chunks WHERE document_id=?", "DELETE FROM documents WHERE id=?"}) {
    DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_, q));
    st.bind(1, doc_row);
    DKB_RETURN_IF_ERROR(st.run());
  }
  DKB_RETURN_IF_ERROR(tx.commit());
  bump_generation(coll.name);
  return removed;
}

Status SqliteStore::compact() {
  std::lock_guard lock(mu_);
  // Merge FTS5 segments first so the index's deleted entries are dropped too.
  DKB_RETURN_IF_ERROR(sql::exec(db_, "INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA incremental_vacuum"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)"));
  return Status::ok();
}

Status SqliteStore::verify() {
  std::lock_guard lock(mu_);
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_, "PRAGMA quick_check"));
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row || st.col_text(0) != "ok")
    return corruption("quick_check: " + (row ? st.col_text(0) : ""));
  Status s =
      sql::exec(db_, "INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)");
  if (!s.is_ok()) return corruption("full-text index: " + s.message());
  return Status::ok();
}

Status verify_sqlite_store(Store& store) {
  auto* s = dynamic_cast<SqliteStore*>(&store);
  if (s == nullptr) return invalid_argument("verify_sqlite_store: not a SqliteStore");
  return s->verify();
}

}  // namespace dkb::kb
