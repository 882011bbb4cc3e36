#include "regex_split_custom.h"

#include "unicode.h"

namespace dkb::tokenizer {
namespace {

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;

// View of one segment: characters outside it read as "nothing" (no flags).
struct Segment {
  const std::vector<uint32_t>& cpts;
  size_t begin;
  size_t end;
  std::vector<size_t>& out;
  size_t prev_end;

  uint32_t cpt(size_t pos) const { return pos >= begin && pos < end ? cpts[pos] : kOutOfRange; }
  uni::CpFlags flags(size_t pos) const {
    return pos >= begin && pos < end ? uni::flags(cpts[pos]) : uni::CpFlags{};
  }
  // Emits the word ending at `e`; returns its length.
  size_t add(size_t e) {
    const size_t len = e - prev_end;
    if (len > 0) out.push_back(len);
    prev_end = e;
    return len;
  }
};

bool is_contraction_tail(uint32_t a) { return a == 's' || a == 't' || a == 'm' || a == 'd'; }
bool is_contraction_tail2(uint32_t a, uint32_t b) {
  return (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l');
}

bool not_ws_letter_number(uni::CpFlags f) {
  return !(f.is_whitespace() || f.is_letter() || f.is_number()) && f.any();
}

// Shared tail of both splitters: whitespace runs. Returns true when a word was emitted.
bool whitespace_rules(Segment& s, size_t& pos, bool newline_rule) {
  size_t n_ws = 0;
  size_t last_nl_end = 0;
  while (s.flags(pos + n_ws).is_whitespace()) {
    const uint32_t c = s.cpt(pos + n_ws);
    if (c == '\r' || c == '\n') last_nl_end = pos + n_ws + 1;
    ++n_ws;
  }
  if (newline_rule && last_nl_end > 0) {  // \s*[\r\n]+
    pos = last_nl_end;
    s.add(pos);
    return true;
  }
  if (n_ws > 1 && s.cpt(pos + n_ws) != kOutOfRange) {  // \s+(?!\S)
    pos += n_ws - 1;
    s.add(pos);
    return true;
  }
  if (n_ws > 0) {  // \s+
    pos += n_ws;
    s.add(pos);
    return true;
  }
  return false;
}

}  // namespace

std::vector<size_t> split_custom_gpt2(const std::vector<uint32_t>& cpts,
                                      const std::vector<size_t>& offsets) {
  std::vector<size_t> out;
  out.reserve(offsets.size());
  size_t start = 0;
  for (size_t n : offsets) {
    Segment s{cpts, start, start + n, out, start};
    start += n;
    for (size_t pos = s.begin; pos < s.end;) {
      const uint32_t c = s.cpt(pos);
      const uni::CpFlags f = s.flags(pos);
      if (c == '\'' && pos + 1 < s.end) {
        const uint32_t c1 = s.cpt(pos + 1);
        if (is_contraction_tail(c1)) {
          pos += s.add(pos + 2);
          continue;
        }
        if (pos + 2 < s.end && is_contraction_tail2(c1, s.cpt(pos + 2))) {
          pos += s.add(pos + 3);
          continue;
        }
      }
      uni::CpFlags f2 = c == ' ' ? s.flags(pos + 1) : f;
      if (f2.is_letter()) {  // " ?\p{L}+"
        pos += (c == ' ');
        while (f2.is_letter()) f2 = s.flags(++pos);
        s.add(pos);
        continue;
      }
      if (f2.is_number()) {  // " ?\p{N}+"
        pos += (c == ' ');
        while (f2.is_number()) f2 = s.flags(++pos);
        s.add(pos);
        continue;
      }
      if (not_ws_letter_number(f2)) {  // " ?[^\s\p{L}\p{N}]+"
        pos += (c == ' ');
        while (not_ws_letter_number(f2)) f2 = s.flags(++pos);
        s.add(pos);
        continue;
      }
      if (whitespace_rules(s, pos, false)) continue;
      s.add(++pos);
    }
  }
  return out;
}

std::vector<size_t> split_custom_llama3(const std::vector<uint32_t>& cpts,
                                        const std::vector<size_t>& offsets) {
  std::vector<size_t> out;
  out.reserve(offsets.size());
  size_t start = 0;
  for (size_t n : offsets) {
    Segment s{cpts, start, start + n, out, start};
    start += n;
    for (size_t pos = s.begin; pos < s.end;) {
      const uint32_t c = s.cpt(pos);
      const uni::CpFlags f = s.flags(pos);
      if (c == '\'' && pos + 1 < s.end) {  // case-insensitive contractions
        const uint32_t c1 = uni::to_lower(s.cpt(pos + 1));
        if (is_contraction_tail(c1)) {
          pos += s.add(pos + 2);
          continue;
        }
        if (pos + 2 < s.end && is_contraction_tail2(c1, uni::to_lower(s.cpt(pos + 2)))) {
          pos += s.add(pos + 3);
          continue;
        }
      }
      // [^\r\n\p{L}\p{N}]?\p{L}+
      if (!(c == '\r' || c == '\n' || f.is_number())) {
        if (f.is_letter() || s.flags(pos + 1).is_letter()) {
          ++pos;
          while (s.flags(pos).is_letter()) ++pos;
          s.add(pos);
          continue;
        }
      }
      if (f.is_number()) {  // \p{N}{1,3}
        size_t ini = pos;
        while (s.flags(pos).is_number()) {
          if (++pos - ini >= 3) {
            s.add(pos);
            ini = pos;
          }
        }
        s.add(pos);
        continue;
      }
      // " ?[^\s\p{L}\p{N}]+[\r\n]*"
      uni::CpFlags f2 = c == ' ' ? s.flags(pos + 1) : f;
      if (not_ws_letter_number(f2) && f.any()) {
        pos += (c == ' ');
        while (not_ws_letter_number(f2)) f2 = s.flags(++pos);
        uint32_t c2 = s.cpt(pos);
        while (c2 == '\r' || c2 == '\n') c2 = s.cpt(++pos);
        s.add(pos);
        continue;
      }
      if (whitespace_rules(s, pos, true)) continue;
      s.add(++pos);
    }
  }
  return out;
}

}  // namespace dkb::tokenizer
