#include "kb/hash.h"

#include <cstdint>
#include <cstdio>

namespace dkb::kb {
namespace {

struct Fnv {
  uint64_t h;
  void feed(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 0x100000001b3ULL;
    }
  }
};

uint64_t finalize(uint64_t x) {  // splitmix64 finalizer: spreads FNV's weak high bits
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::string content_hash(std::initializer_list<std::string_view> parts) {
  Fnv a{0xcbf29ce484222325ULL};
  Fnv b{0x84222325cbf29ce4ULL};
  for (std::string_view part : parts) {
    uint64_t n = part.size();
    a.feed(&n, sizeof n);
    b.feed(&n, sizeof n);
    a.feed(part.data(), part.size());
    b.feed(part.data(), part.size());
    b.h = b.h * 31 + 7;
  }
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(finalize(a.h)),
                static_cast<unsigned long long>(finalize(b.h)));
  return buf;
}

}  // namespace dkb::kb
