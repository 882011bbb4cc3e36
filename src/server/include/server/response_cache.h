// ResponseCache: exact-match cache of deterministic generation responses (temperature 0 or a
// fixed seed, not streamed, no knowledge base), LRU-evicted within a byte budget.
// Keys are the route plus the canonical (key-sorted) JSON body. Thread-safe (one mutex).
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace dkb::server {

class ResponseCache {
 public:
  explicit ResponseCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  std::optional<std::string> get(const std::string& key);
  void put(const std::string& key, std::string value);

  uint64_t hits() const;
  uint64_t misses() const;
  size_t bytes() const;

 private:
  using Entry = std::pair<std::string, std::string>;  // key, value
  mutable std::mutex mu_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace dkb::server
