// kb::MetadataIndex: the chunk ids of one collection, and optionally their metadata, held in
// memory so that Chroma `where` filters and collection membership are answered without
// SQLite (the knowledge base's filtered and full-text searches use it; sqlite_store.h says
// how it is kept current).
//
// Filter semantics are those of compile_where's SQL (json_extract over the stored JSON, with
// SQLite's comparison rules), reproduced exactly:
//  - a key's value is NULL when the key is missing or JSON null; NULL matches nothing except
//    $ne and $nin;
//  - booleans are the integers 0 and 1 (on both sides), so {"flag": true} also matches 1;
//  - numbers compare by value (integers with reals exactly); every number is less than every
//    string, so $gt/$gte match string values and $lt/$lte never do;
//  - an array compares as its JSON text; $contains matches an array holding an element equal
//    to the operand, or a scalar equal to it.
// One intended difference: a key containing a backslash matches here; json_extract compares
// the key's escaped JSON form with the path, so such keys never matched in SQL.
// Rows: ids ascending. remove() leaves a dead row (dropped by compaction once a quarter of the
// rows are dead). add() needs an id above every live id — SQLite's rowid allocation guarantees
// that for new chunks — and first drops dead tail rows whose ids are not below it.
// Memory: 8 bytes + 1 bit per row (ids), 1 bit per id of the collection's id range (members),
// and with metadata ~20 bytes per (row, key) value plus each distinct string once per key.
// Thread-safety: none; the owner serializes access.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kb/filter.h"
#include "kb/id_bitmap.h"
#include "kb/types.h"

namespace dkb::kb {

class MetadataIndex {
 public:
  // With `with_metadata` false only ids are kept (select() then needs an empty filter).
  explicit MetadataIndex(bool with_metadata);
  ~MetadataIndex();
  MetadataIndex(MetadataIndex&&) noexcept;
  MetadataIndex& operator=(MetadataIndex&&) noexcept;
  bool with_metadata() const { return with_metadata_; }

  // Adds a live row; `metadata` (an object; ignored without metadata) is the chunk's stored
  // metadata. Returns false, changing nothing, when a live row has an id ≥ `id`.
  bool add(int64_t id, const Json& metadata);
  void remove(int64_t id);

  size_t size() const { return live_count_; }
  bool contains(int64_t id) const { return members_.contains(id); }
  const IdBitmap& members() const { return members_; }
  std::vector<int64_t> ids() const;  // live ids, ascending
  // Live ids (ascending) whose metadata matches `where` (parse_where). Without metadata only
  // the empty filter is meaningful.
  std::vector<int64_t> select(const WhereNode& where) const;

  // Storage of one key's values (defined in metadata_index.cpp).
  struct Cell;
  struct Column;

 private:
  using Bits = std::vector<uint64_t>;
  Bits eval(const WhereNode& node) const;
  Bits eval_leaf(const WhereNode& node) const;
  void compact();

  bool with_metadata_;
  std::vector<int64_t> ids_;  // row → id, ascending
  Bits live_;                 // row → alive
  size_t live_count_ = 0;
  IdBitmap members_;
  std::map<std::string, std::unique_ptr<Column>, std::less<>> columns_;
};

}  // namespace dkb::kb
