// SqliteStore lifecycle: opening a data directory (lock, schema, pragmas), compaction and
// verification. Writes are in sqlite_store.cpp, reads in sqlite_store_read.cpp.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fts5_bm25.h"
#include "fts5_tokenizer.h"
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
  dimension INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0);
CREATE TABLE kb_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO kb_state VALUES ('generation', 1);
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
CREATE INDEX chunks_by_metadata ON chunks(collection_id, metadata);
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
// Schema version 2: outgoing links of each document, replaced with it (vault import).
constexpr const char* kLinksSchema = R"sql(
CREATE TABLE IF NOT EXISTS links(
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  target TEXT NOT NULL,
  heading TEXT NOT NULL DEFAULT '',
  alias TEXT NOT NULL DEFAULT '',
  embed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(document_id, position));
)sql";
Result<int64_t> pragma_int(sqlite3* db, const char* sql_text) {
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db, sql_text));
  DKB_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.col_int(0) : int64_t{0};
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
    DKB_RETURN_IF_ERROR(sql::exec(db_, kLinksSchema));
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
  } else if (version == 1) {
    // Version 2 added persistent generations (index staleness), the metadata index for
    // filters, and the links table (vault import); one transaction upgrades all of it.
    sql::Tx tx(db_);
    DKB_RETURN_IF_ERROR(tx.begin());
    DKB_RETURN_IF_ERROR(sql::exec(
        db_,
        "ALTER TABLE collections ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;"
        "CREATE TABLE kb_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "INSERT INTO kb_state VALUES ('generation', "
        "(SELECT coalesce(max(generation), 0) + 1 FROM collections));"
        "CREATE INDEX chunks_by_metadata ON chunks(collection_id, metadata);"));
    DKB_RETURN_IF_ERROR(sql::exec(db_, kLinksSchema));
    DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA user_version=2"));
    DKB_RETURN_IF_ERROR(tx.commit());
  }
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA journal_mode=WAL"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA synchronous=FULL"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA foreign_keys=ON"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA journal_size_limit=16777216"));
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
  DKB_RETURN_IF_ERROR(register_bm25_function(db));
  Status s = store->init_schema();
  if (!s.is_ok()) return s.with_context("opening knowledge base in " + dir);
  return std::unique_ptr<Store>(std::move(store));
}

Status SqliteStore::compact() {
  std::lock_guard lock(mu_);
  // Merge FTS5 segments first so the index's deleted entries are dropped too.
  DKB_RETURN_IF_ERROR(sql::exec(db_, "INSERT INTO chunks_fts(chunks_fts) VALUES('optimize')"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA incremental_vacuum"));
  DKB_RETURN_IF_ERROR(sql::exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)"));
  return Status::ok();
}

Status SqliteStore::quick_verify() {
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
  return s->quick_verify();
}
}  // namespace dkb::kb
