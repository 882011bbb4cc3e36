#include "base/tensor_type.h"

#include <array>
#include <cctype>

#include "base/status.h"

namespace dkb {
namespace {

struct Entry {
  uint32_t id;
  TensorTypeTraits traits;
};

// Block sizes and byte sizes match ggml's type_traits table.
constexpr std::array<Entry, 20> kTypes = {{
    {0, {"f32", 1, 4}},
    {1, {"f16", 1, 2}},
    {2, {"q4_0", 32, 18}},
    {3, {"q4_1", 32, 20}},
    {6, {"q5_0", 32, 22}},
    {7, {"q5_1", 32, 24}},
    {8, {"q8_0", 32, 34}},
    {9, {"q8_1", 32, 36}},
    {10, {"q2_K", 256, 84}},
    {11, {"q3_K", 256, 110}},
    {12, {"q4_K", 256, 144}},
    {13, {"q5_K", 256, 176}},
    {14, {"q6_K", 256, 210}},
    {15, {"q8_K", 256, 292}},
    {24, {"i8", 1, 1}},
    {25, {"i16", 1, 2}},
    {26, {"i32", 1, 4}},
    {27, {"i64", 1, 8}},
    {28, {"f64", 1, 8}},
    {30, {"bf16", 1, 2}},
}};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type) {
  for (const auto& e : kTypes) {
    if (e.id == raw_type) return e.traits;
  }
  return std::nullopt;
}

std::optional<TensorType> tensor_type_from_name(std::string_view name) {
  for (const auto& e : kTypes) {
    if (iequals(e.traits.name, name)) return static_cast<TensorType>(e.id);
  }
  return std::nullopt;
}

std::string_view tensor_type_name(TensorType t) {
  auto tr = tensor_type_traits(t);
  return tr ? tr->name : std::string_view("unknown");
}

size_t tensor_row_size(TensorType t, int64_t n) {
  auto tr = tensor_type_traits(t);
  DKB_CHECK(tr.has_value());
  DKB_CHECK(n >= 0 && n % tr->block_size == 0);
  return static_cast<size_t>(n / tr->block_size) * tr->type_size;
}

}  // namespace dkb
