// AuthStore: users, role grants and API keys, persisted in SQLite (auth.db in the data
// directory, WAL, synchronous=FULL).
//
// Users have a name, an Argon2id password hash (password.h), a global-admin flag and a token
// version (bumped by a password change, which invalidates their older JWTs). Grants give a
// user a role on a knowledge base ("kb", one role per user and base) or a model ("model", a
// name or "*"; roles chat and embeddings may both be held). API keys belong to a user; the
// full key "dkb_<id>_<secret>" is returned once by create_key and only its SHA-256 is
// stored; keys may expire, be revoked (kept, marked) and be scoped (permissions.h KeyScope).
// Secrets are never returned by list/get calls.
// Ownership: owns its connection. Thread-safety: every method may be called concurrently
// (one mutex). Errors: kInvalidArgument (bad name, password policy, role), kNotFound,
// kAlreadyExists, kFailedPrecondition (removing the last admin), kIOError/kCorruption (disk).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "auth/password.h"
#include "auth/permissions.h"
#include "base/status.h"

namespace dkb::auth {

struct User {
  int64_t id = 0;
  std::string name;
  bool admin = false;
  int64_t token_version = 0;
  int64_t created_ms = 0;
};

struct Grant {
  std::string user;
  std::string kind;      // "kb" or "model"
  std::string resource;  // knowledge base, or model name / "*"
  std::string role;
};

struct ApiKeyInfo {
  std::string id;    // public, e.g. "3f9a0c1e2b7d"
  std::string user;  // owner
  std::string name;  // label
  KeyScope scope;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;  // 0: never
  int64_t revoked_ms = 0;  // 0: active
  int64_t rate_per_minute = 0;  // requests per minute; 0: the server default
};

struct KeySpec {
  std::string user;
  std::string name;
  KeyScope scope;
  int64_t expires_ms = 0;
  int64_t rate_per_minute = 0;  // requests per minute; 0: the server default
};

struct NewApiKey {
  ApiKeyInfo info;
  std::string key;  // the full secret key: shown once, never stored
};

// Letters, digits and . _ @ - ; 1–64 characters.
Status validate_user_name(std::string_view name);

class AuthStore {
 public:
  static Result<std::unique_ptr<AuthStore>> open(const std::string& path,
                                                 PasswordParams params = {});
  ~AuthStore();

  // Users.
  Result<User> add_user(const std::string& name, std::string_view password, bool admin);
  Result<User> get_user(const std::string& name);
  Result<User> get_user_by_id(int64_t id);
  Result<std::vector<User>> list_users();
  Result<int64_t> count_users();
  Status remove_user(const std::string& name);
  Status set_password(const std::string& name, std::string_view password);
  // The user when the password matches; kUnauthenticated ("invalid user name or password")
  // otherwise. An unknown name costs the same hash as a known one.
  Result<User> check_password(const std::string& name, std::string_view password);

  // Grants. kb: replaces the user's role on that base. kNotFound for an unknown user.
  Status grant(const std::string& user, const std::string& kind, const std::string& resource,
               const std::string& role);
  // Removes the user's roles on the resource (role empty: all of them). kNotFound if none.
  Status revoke(const std::string& user, const std::string& kind, const std::string& resource,
                const std::string& role = "");
  // Filters: empty = any.
  Result<std::vector<Grant>> list_grants(const std::string& user, const std::string& kind,
                                         const std::string& resource);
  // Keeps grants attached to a knowledge base that is renamed, and drops them when it is
  // deleted (so a new base of the same name starts with no members). API keys scoped by name
  // do not follow a rename: they fail closed until re-issued.
  Status rename_resource(const std::string& kind, const std::string& from, const std::string& to);
  Status drop_resource(const std::string& kind, const std::string& name);

  // API keys.
  Result<NewApiKey> create_key(const KeySpec& spec);
  Result<std::vector<ApiKeyInfo>> list_keys(const std::string& user);  // empty: all users
  Result<ApiKeyInfo> get_key(const std::string& id);
  Status revoke_key(const std::string& id);
  // The key's info when `key` is a well-formed, known key whose hash matches (constant time);
  // kUnauthenticated otherwise, saying whether it is unknown, revoked or expired.
  Result<ApiKeyInfo> check_key(std::string_view key, int64_t now_ms);

  // The principal of a user, with their grants (kind kUser).
  Result<Principal> principal_for(const User& user);

 private:
  struct Impl;
  explicit AuthStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dkb::auth
