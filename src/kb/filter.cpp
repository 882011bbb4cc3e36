#include "kb/filter.h"

#include <tuple>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace dkb::kb {
namespace {

constexpr int kMaxDepth = 32;

struct Compiler {
  std::string_view column;
  CompiledFilter out;

  // Binds a scalar operand and records it on the leaf `node`.
  Status bind_scalar(const Json& v, std::string_view where_desc, WhereNode& node) {
    if (v.is_string()) {
      out.params.emplace_back(v.get<std::string>());
    } else if (v.is_boolean()) {
      out.params.emplace_back(int64_t{v.get<bool>() ? 1 : 0});
    } else if (v.is_number_integer()) {
      out.params.emplace_back(v.get<int64_t>());
    } else if (v.is_number()) {
      out.params.emplace_back(v.get<double>());
    } else {
      return invalid_argument(std::string(where_desc) +
                              ": value must be a string, number or boolean, got " + v.dump());
    }
    node.values.push_back(out.params.back());
    return Status::ok();
  }

  Status key_path(const std::string& key) {
    if (key.empty() || key.size() > 256) return invalid_argument("filter key must be 1..256 bytes");
    for (char c : key) {
      if (c == '"' || static_cast<unsigned char>(c) < 0x20) {
        return invalid_argument("filter key contains '\"' or a control character: " + key);
      }
    }
    out.params.emplace_back("$.\"" + key + "\"");
    return Status::ok();
  }

  std::string extract() const { return "json_extract(" + std::string(column) + ", ?)"; }

  Status compile_field(const std::string& key, const Json& cond, WhereNode& node) {
    node.key = key;
    if (!cond.is_object()) {
      node.op = WhereNode::Op::kEq;
      out.sql += extract() + " = ?";
      DKB_RETURN_IF_ERROR(key_path(key));
      return bind_scalar(cond, "filter on '" + key + "'", node);
    }
    if (cond.size() != 1) {
      return invalid_argument("filter on '" + key + "' must have exactly one operator");
    }
    const std::string& op = cond.begin().key();
    const Json& v = cond.begin().value();
    std::string desc = "filter " + key + "." + op;
    static const std::tuple<const char*, const char*, WhereNode::Op> kCmp[] = {
        {"$eq", "=", WhereNode::Op::kEq},   {"$ne", "!=", WhereNode::Op::kNe},
        {"$gt", ">", WhereNode::Op::kGt},   {"$gte", ">=", WhereNode::Op::kGte},
        {"$lt", "<", WhereNode::Op::kLt},   {"$lte", "<=", WhereNode::Op::kLte}};
    for (auto [name, sql_op, node_op] : kCmp) {
      if (op != name) continue;
      node.op = node_op;
      bool numeric_only = op != "$eq" && op != "$ne";
      if (numeric_only && !(v.is_number() && !v.is_boolean())) {
        return invalid_argument(desc + ": operand must be a number, got " + v.dump());
      }
      if (op == "$ne") {
        out.sql += "(" + extract() + " IS NULL OR " + extract() + " != ?)";
        DKB_RETURN_IF_ERROR(key_path(key));
        DKB_RETURN_IF_ERROR(key_path(key));
      } else {
        out.sql += extract() + " " + sql_op + " ?";
        DKB_RETURN_IF_ERROR(key_path(key));
      }
      return bind_scalar(v, desc, node);
    }
    if (op == "$in" || op == "$nin") {
      node.op = op == "$in" ? WhereNode::Op::kIn : WhereNode::Op::kNin;
      if (!v.is_array() || v.empty())
        return invalid_argument(desc + ": operand must be a non-empty array");
      if (op == "$nin") {
        out.sql += "(" + extract() + " IS NULL OR " + extract() + " NOT IN (";
        DKB_RETURN_IF_ERROR(key_path(key));
        DKB_RETURN_IF_ERROR(key_path(key));
      } else {
        out.sql += extract() + " IN (";
        DKB_RETURN_IF_ERROR(key_path(key));
      }
      for (size_t i = 0; i < v.size(); ++i) {
        out.sql += i ? ", ?" : "?";
        DKB_RETURN_IF_ERROR(bind_scalar(v[i], desc, node));
      }
      out.sql += op == "$nin" ? "))" : ")";
      return Status::ok();
    }
    if (op == "$contains") {
      node.op = WhereNode::Op::kContains;
      out.sql += "EXISTS (SELECT 1 FROM json_each(" + std::string(column) +
                 ", ?) AS je WHERE je.value = ?)";
      DKB_RETURN_IF_ERROR(key_path(key));
      return bind_scalar(v, desc, node);
    }
    return invalid_argument(desc + ": unknown operator");
  }

  // Compiles one filter object into `node` (an implicit $and of its keys).
  Status compile(const Json& where, int depth, WhereNode& node) {
    if (depth > kMaxDepth) return invalid_argument("filter nested too deeply");
    if (!where.is_object())
      return invalid_argument("filter must be an object, got " + where.dump());
    if (where.empty()) return invalid_argument("filter object must not be empty");
    node.op = WhereNode::Op::kAnd;
    bool multi = where.size() > 1;
    if (multi) out.sql += "(";
    bool first = true;
    for (auto it = where.begin(); it != where.end(); ++it) {
      if (!first) out.sql += " AND ";
      first = false;
      const std::string& key = it.key();
      WhereNode& child = node.children.emplace_back();
      if (key == "$and" || key == "$or") {
        const Json& list = it.value();
        if (!list.is_array() || list.empty()) {
          return invalid_argument(key + " needs a non-empty array of filters");
        }
        child.op = key == "$and" ? WhereNode::Op::kAnd : WhereNode::Op::kOr;
        out.sql += "(";
        for (size_t i = 0; i < list.size(); ++i) {
          if (i) out.sql += key == "$and" ? " AND " : " OR ";
          DKB_RETURN_IF_ERROR(compile(list[i], depth + 1, child.children.emplace_back()));
        }
        out.sql += ")";
      } else if (!key.empty() && key[0] == '$') {
        return invalid_argument("unknown logical operator " + key);
      } else {
        DKB_RETURN_IF_ERROR(compile_field(key, it.value(), child));
      }
    }
    if (multi) out.sql += ")";
    return Status::ok();
  }
};

Status check_regex(const std::string& pattern) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF, &err, &offset, nullptr);
  if (code != nullptr) {
    pcre2_code_free(code);
    return Status::ok();
  }
  PCRE2_UCHAR msg[256];
  pcre2_get_error_message(err, msg, sizeof msg);
  return invalid_argument("bad regex at offset " + std::to_string(offset) + ": " +
                          reinterpret_cast<const char*>(msg));
}

Status compile_document(const Json& w, std::string_view column, CompiledFilter& out, int depth) {
  if (depth > kMaxDepth) return invalid_argument("where_document nested too deeply");
  if (!w.is_object() || w.size() != 1) {
    return invalid_argument("where_document must be an object with exactly one operator");
  }
  const std::string& op = w.begin().key();
  const Json& v = w.begin().value();
  if (op == "$and" || op == "$or") {
    if (!v.is_array() || v.empty()) return invalid_argument(op + " needs a non-empty array");
    out.sql += "(";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i) out.sql += op == "$and" ? " AND " : " OR ";
      DKB_RETURN_IF_ERROR(compile_document(v[i], column, out, depth + 1));
    }
    out.sql += ")";
    return Status::ok();
  }
  if (!v.is_string() || v.get<std::string>().empty()) {
    return invalid_argument("where_document " + op + " needs a non-empty string");
  }
  std::string arg = v.get<std::string>();
  if (op == "$contains" || op == "$not_contains") {
    out.sql += "instr(" + std::string(column) + ", ?) " + (op == "$contains" ? "> 0" : "= 0");
  } else if (op == "$regex" || op == "$not_regex") {
    DKB_RETURN_IF_ERROR(check_regex(arg));
    out.sql +=
        std::string(op == "$regex" ? "" : "NOT ") + "dkb_regexp(?, " + std::string(column) + ")";
  } else {
    return invalid_argument("unknown where_document operator " + op);
  }
  out.params.emplace_back(std::move(arg));
  return Status::ok();
}

}  // namespace

Result<CompiledFilter> compile_where_document(const Json& where_document,
                                              std::string_view text_column) {
  if (where_document.is_null()) return CompiledFilter{"1", {}};
  CompiledFilter out;
  Status s = compile_document(where_document, text_column, out, 0);
  if (!s.is_ok()) return s.with_context("where_document");
  return out;
}

namespace {

// One pass builds both forms, so they accept and reject exactly the same filters.
Result<std::pair<CompiledFilter, WhereNode>> compile_both(const Json& where,
                                                         std::string_view metadata_column) {
  if (where.is_null() || (where.is_object() && where.empty())) {
    return std::pair<CompiledFilter, WhereNode>{CompiledFilter{"1", {}}, WhereNode{}};
  }
  Compiler c{metadata_column, {}};
  WhereNode root;
  Status s = c.compile(where, 0, root);
  if (!s.is_ok()) return s.with_context("where");
  return std::pair<CompiledFilter, WhereNode>{std::move(c.out), std::move(root)};
}

}  // namespace

Result<CompiledFilter> compile_where(const Json& where, std::string_view metadata_column) {
  DKB_ASSIGN_OR_RETURN(auto both, compile_both(where, metadata_column));
  return std::move(both.first);
}

Result<WhereNode> parse_where(const Json& where) {
  DKB_ASSIGN_OR_RETURN(auto both, compile_both(where, "m"));
  return std::move(both.second);
}

Status validate_metadata(const Json& metadata) {
  if (!metadata.is_object()) return invalid_argument("metadata must be a JSON object");
  auto scalar = [](const Json& v) { return v.is_string() || v.is_number() || v.is_boolean(); };
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    if (it.key().empty() || it.key().size() > 256) {
      return invalid_argument("metadata key must be 1..256 bytes");
    }
    const Json& v = it.value();
    if (scalar(v)) continue;
    if (v.is_array() && !v.empty()) {
      for (const auto& e : v) {
        if (!scalar(e))
          return invalid_argument("metadata '" + it.key() + "': array elements must be scalars");
      }
      continue;
    }
    return invalid_argument("metadata '" + it.key() +
                            "' must be a string, number, boolean or non-empty array");
  }
  return Status::ok();
}

}  // namespace dkb::kb
