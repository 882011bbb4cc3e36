// Test helpers for locating ../shared/fixtures (DESIGN §7).
//
// fixtures_dir() is $DKB_FIXTURES, else the path configured at build time. A missing fixture
// makes a test skip with a loud message — or fail when CI=true.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace dkb::test {

std::string fixtures_dir();
std::string fixture_path(const std::string& relative);
bool fixture_exists(const std::string& relative);
bool running_in_ci();
// Reads a whole file; fails the test on error.
std::string read_file(const std::string& path);

}  // namespace dkb::test

// Skips (or fails under CI=true) when the fixture is missing.
#define DKB_REQUIRE_FIXTURE(rel)                                                   \
  do {                                                                             \
    if (!::dkb::test::fixture_exists(rel)) {                                       \
      if (::dkb::test::running_in_ci()) {                                          \
        FAIL() << "fixture missing under CI: " << ::dkb::test::fixture_path(rel);  \
      } else {                                                                     \
        GTEST_SKIP() << "*** FIXTURE MISSING: " << ::dkb::test::fixture_path(rel)  \
                     << " (set DKB_FIXTURES) ***";                                 \
      }                                                                            \
    }                                                                              \
  } while (0)
