// TensorType: the GGUF/ggml tensor element types, with their block geometry.
//
// Numeric values equal ggml's `enum ggml_type`, so they can be read from and written to GGUF
// files directly. A tensor row of n elements of type t occupies
// (n / block_size(t)) * type_size(t) bytes; n must be a multiple of block_size(t).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dkb {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct TensorTypeTraits {
  std::string_view name;  // "f32", "q4_K", ... as ggml spells them
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
};

// Traits of a known type, or nullopt for a value that is not a supported type.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type);
inline std::optional<TensorTypeTraits> tensor_type_traits(TensorType t) {
  return tensor_type_traits(static_cast<uint32_t>(t));
}
// Parses names such as "q4_0", "Q4_K", "f16" (case-insensitive).
std::optional<TensorType> tensor_type_from_name(std::string_view name);
std::string_view tensor_type_name(TensorType t);

// Bytes of one row of n elements; n must be a multiple of the block size (DKB_CHECK).
size_t tensor_row_size(TensorType t, int64_t n);

}  // namespace dkb
