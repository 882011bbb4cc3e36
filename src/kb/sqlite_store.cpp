// SqliteStore writes: collections and documents (see kb/sqlite_store.h for the format).
#include <cmath>

#include "base/utf8.h"
#include "kb/filter.h"
#include "kb/hash.h"
#include "sqlite_store_impl.h"

namespace dkb::kb {
namespace {

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

Status validate_document(const Document& doc, const std::vector<Chunk>& chunks) {
  if (doc.id.empty() || doc.id.size() > 512)
    return invalid_argument("document id must be 1..512 bytes");
  for (const std::string* s : {&doc.id, &doc.source, &doc.title}) {
    if (!utf8::is_valid(*s)) return invalid_argument("document fields must be valid UTF-8");
  }
  DKB_RETURN_IF_ERROR(validate_metadata(doc.metadata));
  for (const DocumentLink& l : doc.links) {
    if (l.target.empty()) return invalid_argument("link target must not be empty");
    for (const std::string* s : {&l.target, &l.heading, &l.alias}) {
      if (!utf8::is_valid(*s)) return invalid_argument("link fields must be valid UTF-8");
    }
  }
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
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_RETURN_IF_ERROR(st.run());
  if (sqlite3_changes(db_) == 0)
    return already_exists("collection " + std::string(name) + " already exists");
  int64_t id = sqlite3_last_insert_rowid(db_);
  DKB_ASSIGN_OR_RETURN(uint64_t gen, bump_generation_locked(id));
  DKB_RETURN_IF_ERROR(tx.commit());
  catalogs_.erase(id);  // a deleted collection's id may come back
  ChangeEvent ev;
  ev.collection_id = id;
  ev.collection = std::string(name);
  ev.generation = gen;
  published(std::move(ev));
  return Collection{id, std::string(name), metadata, dimension};
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

Status SqliteStore::rename_collection(std::string_view name, std::string_view new_name) {
  DKB_RETURN_IF_ERROR(validate_name(new_name));
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(Collection c, get_collection_locked(name));
  if (c.name == new_name) return Status::ok();
  if (get_collection_locked(new_name).is_ok()) {
    return already_exists("collection " + std::string(new_name) + " already exists");
  }
  DKB_ASSIGN_OR_RETURN(auto st, sql::Stmt::prepare(db_, "UPDATE collections SET name=? WHERE id=?"));
  st.bind(1, new_name).bind(2, c.id);
  DKB_RETURN_IF_ERROR(st.run());
  DKB_ASSIGN_OR_RETURN(uint64_t gen, bump_generation_locked(c.id));
  DKB_RETURN_IF_ERROR(tx.commit());
  generations_.erase(c.name);
  catalog_published_locked(c.id, gen);  // same chunks
  ChangeEvent ev;
  ev.collection_id = c.id;
  ev.collection = std::string(new_name);
  ev.generation = gen;
  published(std::move(ev));
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
  catalogs_.erase(c.id);
  ChangeEvent ev;
  ev.kind = ChangeEvent::Kind::kDropped;
  ev.collection_id = c.id;
  ev.collection = c.name;
  published(std::move(ev));
  reclaim_space_locked(SIZE_MAX / 8);  // the whole collection went
  return Status::ok();
}

Result<PutResult> SqliteStore::put_document(const Document& doc, const std::vector<Chunk>& chunks) {
  DKB_RETURN_IF_ERROR(validate_document(doc, chunks));
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(doc.collection));
  DKB_ASSIGN_OR_RETURN(PutResult result, put_locked(doc, chunks, coll));
  if (result.outcome == PutOutcome::kUnchanged) return result;  // Tx rolls back: nothing written
  DKB_ASSIGN_OR_RETURN(uint64_t gen, bump_generation_locked(coll.id));
  DKB_RETURN_IF_ERROR(tx.commit());
  chunks_changed_locked(coll.id, result.removed_chunk_ids, result.added_chunk_ids, &doc, &chunks);
  catalog_published_locked(coll.id, gen);
  ChangeEvent ev;
  ev.collection_id = coll.id;
  ev.collection = coll.name;
  ev.generation = gen;
  ev.removed = result.removed_chunk_ids;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (!chunks[i].vector.empty()) ev.added.emplace_back(result.added_chunk_ids[i], chunks[i].vector);
  }
  size_t removed = ev.removed.size();
  published(std::move(ev));
  if (result.outcome == PutOutcome::kReplaced) reclaim_space_locked(removed);
  return result;
}

Result<std::vector<PutResult>> SqliteStore::put_documents(std::string_view collection,
                                                          std::span<const DocumentWrite> writes) {
  for (const DocumentWrite& w : writes) {
    if (w.doc.collection != collection) {
      return invalid_argument("document " + w.doc.id + " names collection '" + w.doc.collection +
                              "', not '" + std::string(collection) + "'");
    }
    DKB_RETURN_IF_ERROR(validate_document(w.doc, w.chunks).with_context("document " + w.doc.id));
  }
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  std::vector<PutResult> results;
  results.reserve(writes.size());
  for (const DocumentWrite& w : writes) {
    auto r = put_locked(w.doc, w.chunks, coll);
    if (!r.is_ok()) return r.status().with_context("document " + w.doc.id);  // Tx rolls back
    results.push_back(std::move(*r));
  }
  bool changed = false, replaced = false;
  for (const PutResult& r : results) {
    changed |= r.outcome != PutOutcome::kUnchanged;
    replaced |= r.outcome == PutOutcome::kReplaced;
  }
  if (!changed) return results;  // Tx rolls back: nothing written
  DKB_ASSIGN_OR_RETURN(uint64_t gen, bump_generation_locked(coll.id));
  DKB_RETURN_IF_ERROR(tx.commit());
  for (size_t d = 0; d < writes.size(); ++d) {
    chunks_changed_locked(coll.id, results[d].removed_chunk_ids, results[d].added_chunk_ids,
                          &writes[d].doc, &writes[d].chunks);
  }
  catalog_published_locked(coll.id, gen);
  ChangeEvent ev;
  ev.collection_id = coll.id;
  ev.collection = coll.name;
  ev.generation = gen;
  for (size_t d = 0; d < writes.size(); ++d) {
    const PutResult& r = results[d];
    ev.removed.insert(ev.removed.end(), r.removed_chunk_ids.begin(), r.removed_chunk_ids.end());
    for (size_t i = 0; i < r.added_chunk_ids.size(); ++i) {
      const auto& v = writes[d].chunks[i].vector;
      if (!v.empty()) ev.added.emplace_back(r.added_chunk_ids[i], v);
    }
  }
  size_t removed = ev.removed.size();
  published(std::move(ev));
  if (replaced) reclaim_space_locked(removed);
  return results;
}

Result<PutResult> SqliteStore::put_locked(const Document& doc, const std::vector<Chunk>& chunks,
                                          Collection& coll) {
  std::string hash = doc.content_hash;
  if (hash.empty()) {
    std::string texts;
    for (const Chunk& c : chunks) texts += c.text + '\x1f';
    hash = content_hash({doc.title, doc.metadata.dump(), texts});
  }
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
        return result;  // nothing written
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
    coll.dimension = static_cast<uint32_t>(dim);  // later documents of a batch must match
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
  DKB_RETURN_IF_ERROR(put_links_locked(doc_row, doc.links));
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    Json meta = stored_chunk_metadata(doc, c);
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
  return result;
}

Status SqliteStore::put_links_locked(int64_t doc_row, const std::vector<DocumentLink>& links) {
  DKB_ASSIGN_OR_RETURN(auto del, sql::Stmt::prepare(db_, "DELETE FROM links WHERE document_id=?"));
  del.bind(1, doc_row);
  DKB_RETURN_IF_ERROR(del.run());
  for (size_t i = 0; i < links.size(); ++i) {
    const DocumentLink& l = links[i];
    DKB_ASSIGN_OR_RETURN(
        auto ins, sql::Stmt::prepare(db_,
                                     "INSERT INTO links(document_id, position, target, heading, "
                                     "alias, embed) VALUES (?,?,?,?,?,?)"));
    ins.bind(1, doc_row)
        .bind(2, static_cast<int64_t>(i))
        .bind(3, l.target)
        .bind(4, l.heading)
        .bind(5, l.alias)
        .bind(6, int64_t{l.embed ? 1 : 0});
    DKB_RETURN_IF_ERROR(ins.run());
  }
  return Status::ok();
}

Result<std::vector<int64_t>> SqliteStore::delete_document(std::string_view collection,
                                                          std::string_view doc_id) {
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  DKB_ASSIGN_OR_RETURN(auto removed, delete_locked(coll, doc_id));
  if (!removed) return not_found("document " + std::string(doc_id) + " not found in " + coll.name);
  DKB_ASSIGN_OR_RETURN(uint64_t gen, bump_generation_locked(coll.id));
  DKB_RETURN_IF_ERROR(tx.commit());
  chunks_changed_locked(coll.id, *removed, {}, nullptr, nullptr);
  catalog_published_locked(coll.id, gen);
  ChangeEvent ev;
  ev.collection_id = coll.id;
  ev.collection = coll.name;
  ev.generation = gen;
  ev.removed = *removed;
  published(std::move(ev));
  reclaim_space_locked(removed->size());
  return std::move(*removed);
}

Result<size_t> SqliteStore::delete_documents(std::string_view collection,
                                             std::span<const std::string> doc_ids) {
  std::lock_guard lock(mu_);
  sql::Tx tx(db_);
  DKB_RETURN_IF_ERROR(tx.begin());
  DKB_ASSIGN_OR_RETURN(Collection coll, get_collection_locked(collection));
  size_t n = 0;
  ChangeEvent ev;
  for (const std::string& id : doc_ids) {
    DKB_ASSIGN_OR_RETURN(auto removed, delete_locked(coll, id));
    if (!removed) continue;
    ++n;
    ev.removed.insert(ev.removed.end(), removed->begin(), removed->end());
  }
  if (n == 0) return n;
  DKB_ASSIGN_OR_RETURN(uint64_t gen, bump_generation_locked(coll.id));
  DKB_RETURN_IF_ERROR(tx.commit());
  chunks_changed_locked(coll.id, ev.removed, {}, nullptr, nullptr);
  catalog_published_locked(coll.id, gen);
  ev.collection_id = coll.id;
  ev.collection = coll.name;
  ev.generation = gen;
  size_t n_removed = ev.removed.size();
  published(std::move(ev));
  reclaim_space_locked(n_removed);
  return n;
}

Result<std::optional<std::vector<int64_t>>> SqliteStore::delete_locked(const Collection& coll,
                                                                       std::string_view doc_id) {
  DKB_ASSIGN_OR_RETURN(
      auto find,
      sql::Stmt::prepare(db_, "SELECT id FROM documents WHERE collection_id=? AND ext_id=?"));
  find.bind(1, coll.id).bind(2, doc_id);
  DKB_ASSIGN_OR_RETURN(bool found, find.step());
  if (!found) return std::optional<std::vector<int64_t>>();
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
  return std::optional(std::move(removed));
}

}  // namespace dkb::kb
