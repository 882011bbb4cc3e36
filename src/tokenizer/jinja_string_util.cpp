// Python str semantics on UTF-8: Unicode case mapping and whitespace, strip, split,
// replace and printf-style formatting.
#include "jinja_string_util.h"

#include <utf8proc.h>

#include <algorithm>

#include "base/utf8.h"
#include "jinja_value.h"

namespace dkb::tokenizer::jinja {
namespace {

bool py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Python str.isspace() for one code point (includes NBSP, ideographic space, ...).
bool py_space_cp(uint32_t cp) {
  if (cp < 0x80) return py_space(static_cast<char>(cp)) || (cp >= 0x1c && cp <= 0x1f);
  return cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

// Length of the whitespace code point at s[i], or 0.
size_t space_at(const std::string& s, size_t i) {
  size_t j = i;
  uint32_t cp = dkb::utf8::decode(s, j);
  return py_space_cp(cp) ? j - i : 0;
}

}  // namespace

std::string py_strip(const std::string& s, const std::string* chars, bool left, bool right) {
  // Multi-byte strip characters are matched per code point.
  std::vector<std::string> set;
  if (chars != nullptr) set = utf8_chars(*chars);
  auto strip_here = [&](const std::string& cp) {
    if (chars == nullptr) return space_at(cp, 0) == cp.size();
    for (const auto& c : set) {
      if (c == cp) return true;
    }
    return false;
  };
  std::vector<std::string> cps = utf8_chars(s);
  size_t b = 0;
  size_t e = cps.size();
  if (left) {
    while (b < e && strip_here(cps[b])) ++b;
  }
  if (right) {
    while (e > b && strip_here(cps[e - 1])) --e;
  }
  std::string out;
  for (size_t i = b; i < e; ++i) out += cps[i];
  return out;
}

std::vector<std::string> py_split(const std::string& s, const std::string* sep, long maxsplit,
                                  bool from_right) {
  std::vector<std::string> out;
  if (sep != nullptr) {
    if (sep->empty()) throw Error("empty separator");
    if (!from_right) {
      size_t pos = 0;
      while (maxsplit < 0 || static_cast<long>(out.size()) < maxsplit) {
        size_t f = s.find(*sep, pos);
        if (f == std::string::npos) break;
        out.push_back(s.substr(pos, f - pos));
        pos = f + sep->size();
      }
      out.push_back(s.substr(pos));
      return out;
    }
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<long>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string::npos) break;
      out.insert(out.begin(), s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
    }
    out.insert(out.begin(), s.substr(0, end));
    return out;
  }
  // Whitespace split: runs of whitespace, no empty strings.
  std::vector<std::pair<size_t, size_t>> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && space_at(s, i) > 0) i += space_at(s, i);
    if (i >= s.size()) break;
    size_t b = i;
    while (i < s.size() && space_at(s, i) == 0)
      i += dkb::utf8::sequence_length(static_cast<uint8_t>(s[i]));
    words.emplace_back(b, std::min(i, s.size()));
  }
  if (maxsplit < 0 || static_cast<size_t>(maxsplit) >= words.size()) {
    for (auto [b, e] : words) out.push_back(s.substr(b, e - b));
    return out;
  }
  size_t k = static_cast<size_t>(maxsplit);
  if (!from_right) {
    for (size_t w = 0; w < k; ++w)
      out.push_back(s.substr(words[w].first, words[w].second - words[w].first));
    std::string rest = s.substr(words[k].first);
    out.push_back(py_strip(rest, nullptr, false, true));
  } else {
    size_t first = words.size() - k;
    std::string rest = s.substr(0, words[first - 1].second);
    out.push_back(py_strip(rest, nullptr, true, false));
    for (size_t w = first; w < words.size(); ++w)
      out.push_back(s.substr(words[w].first, words[w].second - words[w].first));
  }
  return out;
}

std::string py_replace(const std::string& s, const std::string& from, const std::string& to,
                       long count, size_t max_bytes) {
  std::string out;
  auto append = [&](const std::string& piece) {
    if (out.size() + piece.size() > max_bytes) throw Error("replace() result too large");
    out += piece;
  };
  if (from.empty()) {
    long n = 0;
    auto cps = utf8_chars(s);
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || n < count) {
        append(to);
        ++n;
      }
      if (i < cps.size()) append(cps[i]);
    }
    return out;
  }
  size_t pos = 0;
  long n = 0;
  while (count < 0 || n < count) {
    size_t f = s.find(from, pos);
    if (f == std::string::npos) break;
    append(s.substr(pos, f - pos));
    append(to);
    pos = f + from.size();
    ++n;
  }
  append(s.substr(pos));
  return out;
}

namespace {

bool is_letter(uint32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return true;
    default:
      return false;
  }
}

uint32_t lower_cp(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}
uint32_t upper_cp(uint32_t cp) {
  return static_cast<uint32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}

// Applies f(code point, index) to every code point; ASCII-only strings stay byte-exact.
template <typename F>
std::string map_cps(const std::string& s, F f) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  size_t n = 0;
  while (i < s.size()) {
    uint32_t cp = dkb::utf8::decode(s, i);
    dkb::utf8::append(out, f(cp, n++));
  }
  return out;
}

}  // namespace

std::string str_lower(const std::string& s) {
  return map_cps(s, [](uint32_t cp, size_t) { return lower_cp(cp); });
}

std::string str_upper(const std::string& s) {
  return map_cps(s, [](uint32_t cp, size_t) { return upper_cp(cp); });
}

std::string py_title(const std::string& s) {
  bool prev_letter = false;
  return map_cps(s, [&](uint32_t cp, size_t) {
    bool letter = is_letter(cp);
    uint32_t r = letter ? (prev_letter ? lower_cp(cp) : upper_cp(cp)) : cp;
    prev_letter = letter;
    return r;
  });
}

std::string jinja_title(const std::string& s) {
  // Jinja's title filter: each word's first character upper-cased, the rest lower-cased;
  // words start after runs of whitespace, '-', '(', '{', '[' or '<'.
  bool word_start = true;
  return map_cps(s, [&](uint32_t cp, size_t) {
    bool sep = py_space_cp(cp) || cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<';
    uint32_t r = sep ? cp : (word_start ? upper_cp(cp) : lower_cp(cp));
    word_start = sep;
    return r;
  });
}

std::string py_capitalize(const std::string& s) {
  return map_cps(s, [](uint32_t cp, size_t i) { return i == 0 ? upper_cp(cp) : lower_cp(cp); });
}

size_t count_occurrences(const std::string& s, const std::string& sub) {
  if (sub.empty()) return utf8_length(s) + 1;
  size_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
  return n;
}

long cp_index(const std::string& s, size_t byte_offset) {
  return static_cast<long>(utf8_length(s.substr(0, byte_offset)));
}

}  // namespace dkb::tokenizer::jinja

namespace dkb::tokenizer::jinja {

std::string percent_format(const std::string& fmt, const std::vector<Value>& args) {
  std::string out;
  size_t next_arg = 0;
  auto take = [&]() -> const Value& {
    if (next_arg >= args.size()) throw Error("not enough arguments for format string");
    return args[next_arg++];
  };
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    size_t j = i + 1;
    std::string spec = "%";
    while (j < fmt.size() && std::string("-+ 0#").find(fmt[j]) != std::string::npos)
      spec += fmt[j++];
    while (j < fmt.size() && fmt[j] >= '0' && fmt[j] <= '9' && spec.size() < 8) spec += fmt[j++];
    if (j < fmt.size() && fmt[j] == '.') {
      spec += fmt[j++];
      while (j < fmt.size() && fmt[j] >= '0' && fmt[j] <= '9' && spec.size() < 12) spec += fmt[j++];
    }
    if (j >= fmt.size()) throw Error("incomplete format");
    char conv = fmt[j];
    char buf[512];
    switch (conv) {
      case '%':
        out += '%';
        break;
      case 's':
      case 'r': {
        const Value& v = take();
        std::string text = conv == 's' ? to_str(v) : repr(v);
        if (spec.size() > 1) {
          std::snprintf(buf, sizeof(buf), (spec + "s").c_str(), text.c_str());
          out += buf;
        } else {
          out += text;
        }
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o':
        std::snprintf(buf, sizeof(buf), (spec + "ll" + (conv == 'i' ? 'd' : conv)).c_str(),
                      static_cast<long long>(take().as_int()));
        out += buf;
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        std::snprintf(buf, sizeof(buf), (spec + conv).c_str(), take().as_double());
        out += buf;
        break;
      default:
        throw Error(std::string("unsupported format character '") + conv + "'");
    }
    i = j;
  }
  if (next_arg < args.size()) throw Error("not all arguments converted during string formatting");
  return out;
}

}  // namespace dkb::tokenizer::jinja
