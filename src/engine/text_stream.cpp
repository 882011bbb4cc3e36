#include "engine/text_stream.h"

#include <algorithm>

#include "base/utf8.h"

namespace dkb::engine {
namespace {

// Length of the longest suffix of text that is a proper prefix of some stop string.
size_t stop_prefix_overlap(const std::string& text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const std::string& s : stops) {
    size_t max = std::min(text.size(), s.size() - 1);
    for (size_t n = max; n > best; --n) {
      if (text.compare(text.size() - n, n, s, 0, n) == 0) {
        best = n;
        break;
      }
    }
  }
  return best;
}

}  // namespace

std::string TextStream::push(const std::string& piece, bool* stopped) {
  *stopped = false;
  bytes_ += piece;
  for (const std::string& s : stop_) {
    // Held-back bytes are never a full stop string, so a match starts after `emitted_ - len`.
    size_t from = emitted_ >= s.size() ? emitted_ - s.size() + 1 : 0;
    size_t at = bytes_.find(s, from);
    if (at != std::string::npos && at >= emitted_) {
      bytes_.resize(at);
      *stopped = true;
      return flush();
    }
  }
  size_t hold = std::max(utf8::incomplete_tail(bytes_), stop_prefix_overlap(bytes_, stop_));
  size_t end = bytes_.size() - hold;
  if (end <= emitted_) return {};
  std::string out = bytes_.substr(emitted_, end - emitted_);
  emitted_ = end;
  released_ += out;
  return out;
}

std::string TextStream::flush() {
  if (emitted_ >= bytes_.size()) return {};
  std::string out = bytes_.substr(emitted_);
  emitted_ = bytes_.size();
  released_ += out;
  return out;
}

}  // namespace dkb::engine
