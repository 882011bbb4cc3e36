#include "kb/metadata_index.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <unordered_map>

namespace dkb::kb {

// ---- values as json_extract returns them ----

// A non-NULL SQL value of a stored key: INTEGER, REAL, TEXT (a string, or an array's JSON
// text); arrays also keep their elements for $contains.
struct MetadataIndex::Cell {
  enum Kind : uint8_t { kInt, kReal, kText, kArray };
  Kind kind = kInt;
  uint32_t text = 0;  // kText, kArray: id of the (JSON) text in the column's strings
  union {
    int64_t i = 0;
    double r;
    uint32_t array;  // kArray: index into Column::arrays
  };
};

struct MetadataIndex::Column {
  std::vector<uint32_t> rows;  // ascending
  std::vector<Cell> cells;     // parallel to rows
  std::deque<std::string> strings;
  std::unordered_map<std::string_view, uint32_t> string_ids;
  std::vector<std::vector<Cell>> arrays;  // scalar elements (JSON nulls dropped: never equal)
  std::unordered_map<uint32_t, uint32_t> array_of_text;

  uint32_t intern(std::string s) {
    auto it = string_ids.find(s);
    if (it != string_ids.end()) return it->second;
    strings.push_back(std::move(s));
    auto id = static_cast<uint32_t>(strings.size() - 1);
    string_ids.emplace(strings.back(), id);
    return id;
  }
  // Id of `s` when some value of this column has that text.
  std::optional<uint32_t> find(std::string_view s) const {
    auto it = string_ids.find(s);
    return it == string_ids.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  }
};

namespace {

using Cell = MetadataIndex::Cell;

// A scalar as json_extract (and json_each's value) returns it; false for JSON null and for
// arrays/objects.
bool scalar_cell(const Json& v, Cell& c, MetadataIndex::Column& col) {
  switch (v.type()) {
    case Json::value_t::boolean:
      c.kind = Cell::kInt;
      c.i = v.get<bool>() ? 1 : 0;
      return true;
    case Json::value_t::number_integer:
      c.kind = Cell::kInt;
      c.i = v.get<int64_t>();
      return true;
    case Json::value_t::number_unsigned: {
      auto u = v.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        c.kind = Cell::kInt;
        c.i = static_cast<int64_t>(u);
      } else {  // json_extract turns integers beyond int64 into REAL
        c.kind = Cell::kReal;
        c.r = static_cast<double>(u);
      }
      return true;
    }
    case Json::value_t::number_float:
      c.kind = Cell::kReal;
      c.r = v.get<double>();
      return true;
    case Json::value_t::string:
      c.kind = Cell::kText;
      c.text = col.intern(v.get<std::string>());
      return true;
    default:
      return false;
  }
}

// A leaf's operand as SQLite holds the bound parameter, resolved against one column once.
struct Operand {
  enum Kind : uint8_t { kInt, kReal, kText } kind = kInt;
  int64_t i = 0;
  double r = 0;
  std::string_view text;
  std::optional<uint32_t> tid;  // id of `text` in the column, if any value has that text

  Operand(const SqlValue& v, const MetadataIndex::Column& col) {
    if (const auto* s = std::get_if<std::string>(&v)) {
      kind = kText;
      text = *s;
      tid = col.find(*s);
    } else if (const auto* x = std::get_if<int64_t>(&v)) {
      kind = kInt;
      i = *x;
    } else {
      kind = kReal;
      r = std::get<double>(v);
    }
  }
};

// SQLite's ordering of two non-NULL values without affinity: numbers by value (an integer
// and a real compared exactly, as sqlite3IntFloatCompare does with long double), every
// number before every text, texts bytewise. Returns <0, 0, >0.
int compare(const Cell& x, const MetadataIndex::Column& col, const Operand& p) {
  auto cmp = [](auto a, auto b) { return a < b ? -1 : (a > b ? 1 : 0); };
  bool x_text = x.kind == Cell::kText || x.kind == Cell::kArray;
  if (x_text != (p.kind == Operand::kText)) return x_text ? 1 : -1;
  if (x_text) return cmp(std::string_view(col.strings[x.text]).compare(p.text), 0);
  if (x.kind == Cell::kInt) {
    if (p.kind == Operand::kInt) return cmp(x.i, p.i);
    return cmp(static_cast<long double>(x.i), static_cast<long double>(p.r));
  }
  if (p.kind == Operand::kInt) return cmp(static_cast<long double>(x.r), static_cast<long double>(p.i));
  return cmp(x.r, p.r);
}

[[gnu::always_inline]] inline bool equal(const Cell& x, const Operand& p) {
  switch (x.kind) {
    case Cell::kInt:
      return p.kind == Operand::kInt ? x.i == p.i
                                     : p.kind == Operand::kReal &&
                                           static_cast<long double>(x.i) == static_cast<long double>(p.r);
    case Cell::kReal:
      return p.kind == Operand::kReal ? x.r == p.r
                                      : p.kind == Operand::kInt &&
                                            static_cast<long double>(x.r) == static_cast<long double>(p.i);
    case Cell::kText:
    case Cell::kArray:
      return p.tid && *p.tid == x.text;
  }
  return false;
}

}  // namespace

// ---- rows ----

MetadataIndex::MetadataIndex(bool with_metadata) : with_metadata_(with_metadata) {}
MetadataIndex::~MetadataIndex() = default;
MetadataIndex::MetadataIndex(MetadataIndex&&) noexcept = default;
MetadataIndex& MetadataIndex::operator=(MetadataIndex&&) noexcept = default;

bool MetadataIndex::add(int64_t id, const Json& metadata) {
  // Dead rows at the tail may carry ids SQLite hands out again (max(rowid) + 1 after the
  // highest chunk was deleted): drop them, with their values, before appending.
  size_t keep = ids_.size();
  while (keep > 0 && ids_[keep - 1] >= id) {
    size_t row = keep - 1;
    if ((live_[row >> 6] >> (row & 63)) & 1) return false;
    --keep;
  }
  if (keep < ids_.size()) {
    for (auto& [key, col] : columns_) {
      auto cut = std::lower_bound(col->rows.begin(), col->rows.end(), static_cast<uint32_t>(keep));
      col->cells.resize(static_cast<size_t>(cut - col->rows.begin()));
      col->rows.erase(cut, col->rows.end());
    }
    ids_.resize(keep);
    live_.resize((keep + 63) / 64);
    if (keep % 64) live_.back() &= (uint64_t{1} << (keep % 64)) - 1;
  }
  auto row = static_cast<uint32_t>(ids_.size());
  ids_.push_back(id);
  if (live_.size() * 64 <= row) live_.push_back(0);
  live_[row >> 6] |= uint64_t{1} << (row & 63);
  ++live_count_;
  members_.insert(id);
  if (!with_metadata_ || !metadata.is_object()) return true;
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    const Json& v = it.value();
    if (v.is_null()) continue;  // json_extract: NULL, the same as a missing key
    auto cit = columns_.find(it.key());
    if (cit == columns_.end()) cit = columns_.emplace(it.key(), std::make_unique<Column>()).first;
    Column& col = *cit->second;
    Cell c;
    if (!scalar_cell(v, c, col)) {
      // An array (or object): TEXT of its JSON, the form json_extract returns it in.
      c.kind = Cell::kArray;
      c.text = col.intern(v.dump());
      auto [ait, fresh] = col.array_of_text.try_emplace(c.text, static_cast<uint32_t>(col.arrays.size()));
      if (fresh) {
        std::vector<Cell> elems;
        if (v.is_array()) {
          for (const Json& e : v) {
            Cell ec;
            if (scalar_cell(e, ec, col)) elems.push_back(ec);
          }
        }
        col.arrays.push_back(std::move(elems));
      }
      c.array = ait->second;
    }
    col.rows.push_back(row);
    col.cells.push_back(c);
  }
  return true;
}

void MetadataIndex::remove(int64_t id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) return;
  auto row = static_cast<size_t>(it - ids_.begin());
  uint64_t& word = live_[row >> 6];
  uint64_t bit = uint64_t{1} << (row & 63);
  if ((word & bit) == 0) return;
  word &= ~bit;
  --live_count_;
  members_.erase(id);
  size_t dead = ids_.size() - live_count_;
  if (dead > 1024 && dead * 4 > ids_.size()) compact();
}

void MetadataIndex::compact() {
  std::vector<uint32_t> new_row(ids_.size(), UINT32_MAX);
  std::vector<int64_t> ids;
  ids.reserve(live_count_);
  for (size_t row = 0; row < ids_.size(); ++row) {
    if ((live_[row >> 6] >> (row & 63)) & 1) {
      new_row[row] = static_cast<uint32_t>(ids.size());
      ids.push_back(ids_[row]);
    }
  }
  for (auto& [key, col] : columns_) {
    size_t out = 0;
    for (size_t i = 0; i < col->rows.size(); ++i) {
      uint32_t r = new_row[col->rows[i]];
      if (r == UINT32_MAX) continue;
      col->rows[out] = r;
      col->cells[out] = col->cells[i];
      ++out;
    }
    col->rows.resize(out);
    col->cells.resize(out);
  }
  ids_ = std::move(ids);
  live_.assign((ids_.size() + 63) / 64, ~uint64_t{0});
  if (ids_.size() % 64) live_.back() = (uint64_t{1} << (ids_.size() % 64)) - 1;
}

std::vector<int64_t> MetadataIndex::ids() const {
  std::vector<int64_t> out;
  out.reserve(live_count_);
  for (size_t w = 0; w < live_.size(); ++w) {
    for (uint64_t bits = live_[w]; bits; bits &= bits - 1) {
      out.push_back(ids_[w * 64 + static_cast<size_t>(std::countr_zero(bits))]);
    }
  }
  return out;
}

// ---- filters ----

MetadataIndex::Bits MetadataIndex::eval_leaf(const WhereNode& node) const {
  using Op = WhereNode::Op;
  Bits bits(live_.size(), 0);
  auto cit = columns_.find(node.key);
  // $ne and $nin are the complements of $eq and $in: json_extract's NULL satisfies
  // "x IS NULL OR x != p", and for non-NULL x, "x != p" is exactly "NOT x = p".
  bool negate = node.op == Op::kNe || node.op == Op::kNin;
  if (cit != columns_.end()) {
    const Column& col = *cit->second;
    std::vector<Operand> ops;
    for (const SqlValue& v : node.values) ops.emplace_back(v, col);
    // One loop per operator, so the per-value test is a few inlined comparisons.
    auto scan = [&](auto&& match) {
      for (size_t i = 0; i < col.rows.size(); ++i) {
        if (match(col.cells[i])) bits[col.rows[i] >> 6] |= uint64_t{1} << (col.rows[i] & 63);
      }
    };
    const Operand& p = ops[0];
    switch (node.op) {
      case Op::kEq:
      case Op::kNe:
        scan([&](const Cell& x) { return equal(x, p); });
        break;
      case Op::kIn:
      case Op::kNin:
        scan([&](const Cell& x) {
          for (const Operand& q : ops) {
            if (equal(x, q)) return true;
          }
          return false;
        });
        break;
      case Op::kGt: scan([&](const Cell& x) { return compare(x, col, p) > 0; }); break;
      case Op::kGte: scan([&](const Cell& x) { return compare(x, col, p) >= 0; }); break;
      case Op::kLt: scan([&](const Cell& x) { return compare(x, col, p) < 0; }); break;
      case Op::kLte: scan([&](const Cell& x) { return compare(x, col, p) <= 0; }); break;
      case Op::kContains:
        // json_each over an array yields its elements; over a scalar, the scalar itself.
        scan([&](const Cell& x) {
          if (x.kind != Cell::kArray) return equal(x, p);
          for (const Cell& e : col.arrays[x.array]) {
            if (equal(e, p)) return true;
          }
          return false;
        });
        break;
      case Op::kAnd:
      case Op::kOr:
        break;
    }
  }
  if (negate) {
    for (uint64_t& w : bits) w = ~w;
  }
  return bits;
}

MetadataIndex::Bits MetadataIndex::eval(const WhereNode& node) const {
  if (node.op == WhereNode::Op::kAnd || node.op == WhereNode::Op::kOr) {
    bool is_and = node.op == WhereNode::Op::kAnd;
    Bits acc(live_.size(), is_and ? ~uint64_t{0} : 0);
    for (const WhereNode& child : node.children) {
      Bits b = eval(child);
      for (size_t w = 0; w < acc.size(); ++w) acc[w] = is_and ? (acc[w] & b[w]) : (acc[w] | b[w]);
    }
    return acc;
  }
  return eval_leaf(node);
}

std::vector<int64_t> MetadataIndex::select(const WhereNode& where) const {
  Bits bits = eval(where);
  std::vector<int64_t> out;
  for (size_t w = 0; w < bits.size(); ++w) {
    for (uint64_t b = bits[w] & live_[w]; b; b &= b - 1) {
      out.push_back(ids_[w * 64 + static_cast<size_t>(std::countr_zero(b))]);
    }
  }
  return out;
}

}  // namespace dkb::kb
