// Filters that work on the string form of their input: trim, upper, lower, title,
// capitalize, escape, replace, format, wordcount, center, indent.
#include <algorithm>
#include <cctype>

#include "jinja_eval.h"
#include "jinja_string_util.h"

namespace dkb::tokenizer::jinja {
namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

Value apply_text_filter(Evaluator& ev, const std::string& name, const std::string& s, Args& args) {
  if (name == "trim") {
    Value chars = args.get(0, "chars");
    std::string cs = chars.is_undefined() || chars.is_none() ? "" : to_str(chars);
    return py_strip(s, chars.is_undefined() || chars.is_none() ? nullptr : &cs, true, true);
  }
  if (name == "format") {
    std::string out = percent_format(s, args.pos);
    ev.charge(out.size());
    return out;
  }
  if (name == "upper") return str_upper(s);
  if (name == "lower") return str_lower(s);
  if (name == "title") return jinja_title(s);
  if (name == "capitalize") return py_capitalize(s);
  if (name == "escape" || name == "e") return html_escape(s);
  if (name == "replace") {
    Value count = args.get(2, "count", None{});
    return py_replace(s, to_str(args.get(0, "old")), to_str(args.get(1, "new")),
                      count.is_none() ? -1L : static_cast<long>(count.as_int()),
                      ev.limits().max_output_bytes);
  }
  if (name == "wordcount") {
    int64_t n = 0;
    bool in_word = false;
    for (unsigned char c : s) {
      bool w = std::isalnum(c) || c == '_' || c >= 0x80;
      if (w && !in_word) ++n;
      in_word = w;
    }
    return n;
  }
  if (name == "center") {
    int64_t width = std::min<int64_t>(args.get(0, "width", 80).as_int(), 1 << 20);
    int64_t len = static_cast<int64_t>(utf8_length(s));
    if (width <= len) return s;
    int64_t left = (width - len) / 2;
    return std::string(static_cast<size_t>(left), ' ') + s +
           std::string(static_cast<size_t>(width - len - left), ' ');
  }
  if (name == "indent") {
    Value w = args.get(0, "width", 4);
    std::string pad =
        w.is_string()
            ? w.str()
            : std::string(static_cast<size_t>(std::clamp<int64_t>(w.as_int(), 0, 256)), ' ');
    bool first = truthy(args.get(1, "first", false));
    bool blank = truthy(args.get(2, "blank", false));
    std::string out;
    size_t pos = 0;
    bool is_first = true;
    while (true) {
      size_t nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      bool do_pad = is_first ? first : (blank || !line.empty());
      if (do_pad) out += pad;
      out += line;
      if (out.size() > ev.limits().max_output_bytes) throw Error("indent() result too large");
      if (nl == std::string::npos) break;
      out += '\n';
      pos = nl + 1;
      is_first = false;
    }
    return out;
  }
  throw Error("no filter named '" + name + "'");
}

}  // namespace dkb::tokenizer::jinja
