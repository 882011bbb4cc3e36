// Shared by the auth unit tests: a temporary directory removed at the end of the test, and
// cheap Argon2 parameters so tests do not spend their time hashing.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "auth/password.h"

namespace dkb::auth::test {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dkb_auth_XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline PasswordParams cheap_params() { return {1024, 1, 1}; }

}  // namespace dkb::auth::test
