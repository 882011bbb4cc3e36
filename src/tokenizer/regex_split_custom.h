// Hand-written splitters equivalent to llama.cpp's unicode_regex_split_custom_gpt2/_llama3.
// They refine `offsets` (code point counts of consecutive segments) into word lengths.
// Internal to the tokenizer module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dkb::tokenizer {

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<size_t> split_custom_gpt2(const std::vector<uint32_t>& cpts,
                                      const std::vector<size_t>& offsets);
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+
std::vector<size_t> split_custom_llama3(const std::vector<uint32_t>& cpts,
                                        const std::vector<size_t>& offsets);

}  // namespace dkb::tokenizer
