// Chroma `where` filters compiled to SQL over json_extract (applied inside the query).
//
// Grammar (Chroma's metadata filter dialect):
//   where    := { key: value }                        (shorthand for $eq)
//             | { key: { op: value } }                op ∈ $eq $ne $gt $gte $lt $lte
//             | { key: { "$in" | "$nin": [value…] } }
//             | { key: { "$contains": scalar } }       key's value is an array containing it
//             | { "$and" | "$or": [where, where, …] }  (≥ 1 element)
//   A map with several keys is an implicit $and. value := string | number | bool.
//   $gt/$gte/$lt/$lte take numbers only. $ne and $nin also match records lacking the key.
// Errors: kInvalidArgument naming the offending part. Keys must be 1..256 bytes without '"'
// or control characters.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "kb/types.h"

namespace dkb::kb {

// A bound SQL parameter: text, integer, or real.
using SqlValue = std::variant<std::string, int64_t, double>;

struct CompiledFilter {
  std::string sql;               // boolean SQL expression; "1" when there is no filter
  std::vector<SqlValue> params;  // bound to the '?' placeholders, in order
};

// A parsed `where` filter: the tree compile_where's SQL is generated from, for evaluating a
// filter outside SQL (MetadataIndex) with the same meaning. Leaves compare the value of `key`
// with `values`, the operands exactly as they are bound to the SQL (booleans as 0/1).
struct WhereNode {
  enum class Op { kAnd, kOr, kEq, kNe, kGt, kGte, kLt, kLte, kIn, kNin, kContains };
  Op op = Op::kAnd;
  std::string key;                  // leaves
  std::vector<SqlValue> values;     // leaves: one operand, or the $in/$nin list
  std::vector<WhereNode> children;  // kAnd, kOr; an empty kAnd matches everything
};

// Validates like compile_where (same errors); null or {} → an empty kAnd.
Result<WhereNode> parse_where(const Json& where);

// `metadata_column` is the SQL expression of the JSON metadata column, e.g. "c.metadata".
// A null `where` (or an empty object) compiles to "1".
Result<CompiledFilter> compile_where(const Json& where, std::string_view metadata_column);

// Chroma `where_document` over chunk text:
//   { "$contains" | "$not_contains": "substring" }   case-sensitive substring test
//   { "$regex" | "$not_regex": "pattern" }           PCRE2 (UTF mode), unanchored search
//   { "$and" | "$or": [where_document, …] }
// Patterns are compiled here so a bad one is kInvalidArgument; the SQL calls the
// dkb_regexp(pattern, text) function that SqliteStore registers on its connection.
Result<CompiledFilter> compile_where_document(const Json& where_document,
                                              std::string_view text_column);

// Metadata must be a JSON object whose values are strings, numbers, booleans, or non-empty
// arrays of those; keys 1..256 bytes. kInvalidArgument otherwise.
Status validate_metadata(const Json& metadata);

}  // namespace dkb::kb
