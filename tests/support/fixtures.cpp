#include "support/fixtures.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace dkb::test {

std::string fixtures_dir() {
  if (const char* env = std::getenv("DKB_FIXTURES"); env && *env) return env;
  return DKB_DEFAULT_FIXTURES;
}

std::string fixture_path(const std::string& relative) { return fixtures_dir() + "/" + relative; }

bool fixture_exists(const std::string& relative) {
  return std::filesystem::exists(fixture_path(relative));
}

bool running_in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace dkb::test
