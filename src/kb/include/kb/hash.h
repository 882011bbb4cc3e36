// Content hashing for change detection ("re-adding an unchanged document is a no-op").
// Not cryptographic: two independent 64-bit FNV-1a variants → 32 lowercase hex characters.
// Thread-safety: pure functions.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace dkb::kb {

// Hash of the concatenation of `parts`, each length-prefixed so boundaries matter.
std::string content_hash(std::initializer_list<std::string_view> parts);

}  // namespace dkb::kb
