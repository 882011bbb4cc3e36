// Value -> text: Python str()/repr() and json.dumps(ensure_ascii=False) formatting.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "base/utf8.h"
#include "jinja_value.h"

namespace dkb::tokenizer::jinja {

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  // sci: [-]D[.DDD]e[+-]XX
  size_t epos = sci.find('e');
  int exp = std::stoi(sci.substr(epos + 1));
  std::string mant = sci.substr(0, epos);
  bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  std::string out;
  if (exp < -4 || exp >= 16) {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  } else if (exp < 0) {
    out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  } else {
    size_t int_len = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out = digits + std::string(int_len - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  }
  return neg ? "-" + out : out;
}

namespace {

std::string py_quote(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    if (c == static_cast<unsigned char>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char b[8];
      std::snprintf(b, sizeof(b), "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += q;
  return out;
}

void repr_into(const Value& v, std::string& out, int depth) {
  if (depth > kMaxValueDepth) throw Error("value nested too deeply");
  if (v.is_string()) {
    out += py_quote(v.str());
  } else if (v.is_list()) {
    out += '[';
    bool first = true;
    for (const auto& item : *v.list()) {
      if (!first) out += ", ";
      first = false;
      repr_into(item, out, depth + 1);
    }
    out += ']';
  } else if (v.is_dict()) {
    if (v.dict()->is_namespace) out += "<Namespace ";
    out += '{';
    bool first = true;
    for (const auto& [k, item] : v.dict()->items) {
      if (!first) out += ", ";
      first = false;
      out += py_quote(k) + ": ";
      repr_into(item, out, depth + 1);
    }
    out += '}';
    if (v.dict()->is_namespace) out += '>';
  } else {
    out += to_str(v);
  }
}

void append_u16(std::string& out, uint32_t unit) {
  char b[16];
  std::snprintf(b, sizeof(b), "\\u%04x", unit);
  out += b;
}

void json_string(const std::string& s, std::string& out, bool ensure_ascii) {
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80 && ensure_ascii) {
      uint32_t cp = dkb::utf8::decode(s, i);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        append_u16(out, 0xD800 + (cp >> 10));
        append_u16(out, 0xDC00 + (cp & 0x3FF));
      } else {
        append_u16(out, cp);
      }
      continue;
    }
    ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || (c == 0x7f && ensure_ascii)) {
          append_u16(out, c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void json_into(const Value& v, std::string& out, const JsonOptions& opt, int depth) {
  if (depth > kMaxValueDepth) throw Error("value nested too deeply for tojson");
  const bool pretty = opt.indent.has_value();
  const std::string& item_sep = opt.item_separator ? *opt.item_separator : (pretty ? "," : ", ");
  const std::string& key_sep = opt.key_separator ? *opt.key_separator : ": ";
  auto newline = [&](int level) {
    out += '\n';
    for (int k = 0; k < level; ++k) out += *opt.indent;
  };
  if (v.is_undefined() || v.is_none()) {
    out += "null";
  } else if (v.is_bool()) {
    out += std::get<bool>(v.v) ? "true" : "false";
  } else if (v.is_int()) {
    out += std::to_string(std::get<int64_t>(v.v));
  } else if (v.is_float()) {
    double d = std::get<double>(v.v);
    out += std::isnan(d)   ? "NaN"
           : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                           : format_float(d);
  } else if (v.is_string()) {
    json_string(v.str(), out, opt.ensure_ascii);
  } else if (v.is_list()) {
    const List& l = *v.list();
    if (l.empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t i = 0; i < l.size(); ++i) {
      if (i > 0) out += item_sep;
      if (pretty) newline(depth + 1);
      json_into(l[i], out, opt, depth + 1);
    }
    if (pretty) newline(depth);
    out += ']';
  } else if (v.is_dict()) {
    auto items = v.dict()->items;
    if (items.empty()) {
      out += "{}";
      return;
    }
    if (opt.sort_keys) {
      std::stable_sort(items.begin(), items.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
    }
    out += '{';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += item_sep;
      if (pretty) newline(depth + 1);
      json_string(items[i].first, out, opt.ensure_ascii);
      out += key_sep;
      json_into(items[i].second, out, opt, depth + 1);
    }
    if (pretty) newline(depth);
    out += '}';
  } else {
    throw Error("object of type " + type_name(v) + " is not JSON serializable");
  }
}

}  // namespace

std::string to_str(const Value& v) {
  if (v.is_undefined()) return "";
  if (v.is_none()) return "None";
  if (v.is_bool()) return std::get<bool>(v.v) ? "True" : "False";
  if (v.is_int()) return std::to_string(std::get<int64_t>(v.v));
  if (v.is_float()) return format_float(std::get<double>(v.v));
  if (v.is_string()) return v.str();
  if (v.is_callable()) return "<function>";
  std::string out;
  repr_into(v, out, 0);
  return out;
}

std::string repr(const Value& v) {
  std::string out;
  repr_into(v, out, 0);
  return out;
}

std::string to_json(const Value& v, const JsonOptions& options) {
  std::string out;
  json_into(v, out, options, 0);
  return out;
}

}  // namespace dkb::tokenizer::jinja
