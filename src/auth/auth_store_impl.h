// Private state of AuthStore, shared by its implementation files (auth_store.cpp: schema and
// users; auth_store_grants.cpp; auth_store_keys.cpp).
#pragma once

#include <chrono>
#include <mutex>

#include "auth/auth_store.h"
#include "sqlite_db.h"

namespace dkb::auth {

struct AuthStore::Impl {
  sql::DbPtr db;
  std::mutex mu;
  PasswordParams params;
  std::string dummy_hash;  // verified against for unknown users (same cost as a real check)

  sqlite3* raw() { return db.get(); }
  // Caller holds mu.
  Result<User> user_by_name(const std::string& name);
};

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace dkb::auth
