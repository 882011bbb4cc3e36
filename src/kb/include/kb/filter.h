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
// Thread-safety: pure function.
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
  std::string sql;                // boolean SQL expression; "1" when there is no filter
  std::vector<SqlValue> params;   // bound to the '?' placeholders, in order
};

// `metadata_column` is the SQL expression of the JSON metadata column, e.g. "c.metadata".
// A null `where` (or an empty object) compiles to "1".
Result<CompiledFilter> compile_where(const Json& where, std::string_view metadata_column);

// Metadata must be a JSON object whose values are strings, numbers, booleans, or non-empty
// arrays of those; keys 1..256 bytes. kInvalidArgument otherwise.
Status validate_metadata(const Json& metadata);

}  // namespace dkb::kb
