// TextStream: turns generated token pieces into final text for a client.
//
// It holds back bytes that could still become part of a stop string and the bytes of an
// incomplete UTF-8 character, so what push() returns is always safe to send: never half a
// character, never a stop string (or its beginning). Not thread-safe; one per sequence.
#pragma once

#include <string>
#include <vector>

namespace dkb::engine {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop = {}) : stop_(std::move(stop)) {}

  // Adds a token's bytes. Returns text that became final. Sets *stopped when a stop string
  // appeared (the stop string and anything after it are dropped).
  std::string push(const std::string& piece, bool* stopped);
  // Everything still held back (at the end of generation).
  std::string flush();
  // All text released so far.
  const std::string& text() const { return released_; }

 private:
  std::vector<std::string> stop_;
  std::string bytes_;
  size_t emitted_ = 0;
  std::string released_;
};

}  // namespace dkb::engine
