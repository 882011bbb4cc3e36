// UTF-8 helpers. All functions accept arbitrary bytes and never read out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dkb::utf8 {

// Length of the sequence announced by a lead byte (1..4), or 1 for an invalid/continuation byte.
inline size_t sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// Number of bytes at the end of s that form an incomplete (but so far valid-looking)
// multi-byte sequence; 0 when s ends on a character boundary. Used by streaming decoders
// to hold back half a character.
size_t incomplete_tail(std::string_view s);

// True when s is entirely valid UTF-8.
bool is_valid(std::string_view s);

// Decodes one code point at s[i]; advances i. Invalid bytes yield U+FFFD and advance by one.
uint32_t decode(std::string_view s, size_t& i);

// Appends the UTF-8 encoding of cp (U+FFFD for invalid code points).
void append(std::string& out, uint32_t cp);

}  // namespace dkb::utf8
