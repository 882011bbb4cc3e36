#include "server/response_cache.h"

namespace dkb::server {

std::optional<std::string> ResponseCache::get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++hits_;
  return it->second->second;
}

void ResponseCache::put(const std::string& key, std::string value) {
  const size_t size = key.size() + value.size();
  std::lock_guard<std::mutex> lock(mu_);
  if (max_bytes_ == 0 || size > max_bytes_) return;
  if (auto it = index_.find(key); it != index_.end()) {
    bytes_ -= it->second->first.size() + it->second->second.size();
    lru_.erase(it->second);
    index_.erase(it);
  }
  lru_.emplace_front(key, std::move(value));
  index_[key] = lru_.begin();
  bytes_ += size;
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    const Entry& last = lru_.back();
    bytes_ -= last.first.size() + last.second.size();
    index_.erase(last.first);
    lru_.pop_back();
  }
}

uint64_t ResponseCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}
uint64_t ResponseCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}
size_t ResponseCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace dkb::server
