// Unicode helpers for the tokenizers, mirroring llama.cpp's unicode.cpp (build 4748).
//
// Code point decoding is deliberately lax like llama.cpp's: a malformed byte becomes U+FFFD and
// decoding advances by one byte; overlong forms are accepted. Categories come from utf8proc.
// Everything here is stateless or built once (thread-safe statics).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dkb::tokenizer::uni {

// llama.cpp's unicode_cpt_flags: one category bit plus extra properties.
struct CpFlags {
  enum : uint16_t {
    kUndefined = 0x0001,
    kNumber = 0x0002,
    kLetter = 0x0004,
    kSeparator = 0x0008,
    kMark = 0x0010,
    kPunctuation = 0x0020,
    kSymbol = 0x0040,
    kControl = 0x0080,
    kCategoryMask = 0x00FF,
    kWhitespace = 0x0100,
  };
  uint16_t bits = 0;

  bool is_number() const { return bits & kNumber; }
  bool is_letter() const { return bits & kLetter; }
  bool is_mark() const { return bits & kMark; }
  bool is_punctuation() const { return bits & kPunctuation; }
  bool is_symbol() const { return bits & kSymbol; }
  bool is_control() const { return bits & kControl; }
  bool is_separator() const { return bits & kSeparator; }
  bool is_whitespace() const { return bits & kWhitespace; }
  uint16_t category() const { return bits & kCategoryMask; }
  bool any() const { return bits != 0; }
};

CpFlags flags(uint32_t cp);

// Length announced by a UTF-8 lead byte as llama.cpp's unicode_len_utf8 computes it.
size_t len_utf8(char lead);
// Lax decoding (see above).
std::vector<uint32_t> cpts_from_utf8(std::string_view s);
// Encoding; code points above U+10FFFF become U+FFFD.
std::string cpt_to_utf8(uint32_t cp);
void append_utf8(std::string& out, uint32_t cp);

// GPT-2 byte <-> printable code point mapping.
const std::string& byte_to_utf8(uint8_t b);
// Returns -1 when the character is not one of the 256 byte characters.
int utf8_to_byte(uint32_t cp);

uint32_t to_lower(uint32_t cp);
// First code point of the NFD decomposition (llama.cpp's unicode_cpts_normalize_nfd).
uint32_t nfd_first(uint32_t cp);
// Full NFC normalisation of valid UTF-8 (input returned unchanged when it is not valid).
std::string nfc(std::string_view s);

}  // namespace dkb::tokenizer::uni
