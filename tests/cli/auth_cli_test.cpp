// End-to-end: deepkb user / key / kb grant against a running server with authentication on.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <string>

#include "support/fixtures.h"
#include "support/http_client.h"

namespace {

struct Result {
  std::string out;
  int status;
};

// Runs `ENV deepkb ARGS`, capturing stdout.
Result run(const std::string& env, const std::string& args) {
  std::string cmd = env + " " + std::string(DKB_BINARY) + " " + args + " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  Result r{"", -1};
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  r.status = pclose(p);
  return r;
}

TEST(AuthCli, UsersKeysAndGrantsThroughTheAdminApi) {
  DKB_REQUIRE_FIXTURE("models/tiny-bert-F16.gguf");
  dkb::test::ServerProcess::Options opt;
  opt.auth = true;
  opt.env = {{"DEEPKB_ADMIN_PASSWORD", "admin-cli-password"}};
  dkb::test::ServerProcess server(DKB_BINARY, {"--embed-model", dkb::test::fixture_path("models/tiny-bert-F16.gguf"),
                                               "--no-warmup"}, opt);
  ASSERT_TRUE(server.ready()) << server.output();
  const std::string url = " --url http://127.0.0.1:" + std::to_string(server.port());
  const std::string as_admin = "DEEPKB_USER=admin DEEPKB_PASSWORD=admin-cli-password";

  EXPECT_NE(run("", "user list" + url).status, 0);  // no credentials
  EXPECT_NE(run("DEEPKB_USER=admin DEEPKB_PASSWORD=wrong-password", "user list" + url).status, 0);
  EXPECT_EQ(run(as_admin + " DEEPKB_NEW_PASSWORD=bob-password-1", "user add bob" + url).status, 0);
  Result gen = run(as_admin, "user add carol --models none" + url);
  EXPECT_EQ(gen.status, 0);
  EXPECT_NE(gen.out.find("password: "), std::string::npos) << gen.out;  // generated, shown once
  Result users = run(as_admin, "user list" + url);
  EXPECT_NE(users.out.find("bob"), std::string::npos) << users.out;
  EXPECT_NE(users.out.find("admin"), std::string::npos);

  EXPECT_EQ(run(as_admin, "kb create docs" + url).status, 0);
  EXPECT_EQ(run(as_admin, "kb create other" + url).status, 0);
  EXPECT_EQ(run(as_admin, "kb grant docs bob viewer" + url).status, 0);
  EXPECT_NE(run(as_admin, "kb grant docs bob owner" + url).status, 0);  // unknown role
  // Bob signs in with his password and sees only docs.
  Result bob_list = run("DEEPKB_USER=bob DEEPKB_PASSWORD=bob-password-1", "kb list" + url);
  EXPECT_EQ(bob_list.status, 0);
  EXPECT_NE(bob_list.out.find("docs"), std::string::npos) << bob_list.out;
  EXPECT_EQ(bob_list.out.find("other"), std::string::npos) << bob_list.out;

  Result key = run(as_admin, "key create --for bob --kb docs --name ci" + url);
  ASSERT_EQ(key.status, 0);
  std::string k = key.out.substr(0, key.out.find('\n'));
  ASSERT_EQ(k.rfind("dkb_", 0), 0u) << key.out;
  EXPECT_EQ(run("", "kb list --api-key " + k + url).status, 0);
  Result keys = run(as_admin, "key list --for bob" + url);
  std::string id = k.substr(4, 12);
  EXPECT_NE(keys.out.find(id), std::string::npos) << keys.out;
  EXPECT_EQ(keys.out.find(k), std::string::npos);  // never the secret again
  EXPECT_EQ(run(as_admin, "key revoke " + id + url).status, 0);
  EXPECT_NE(run("", "kb list --api-key " + k + url).status, 0);

  EXPECT_EQ(run(as_admin, "kb revoke docs bob" + url).status, 0);
  EXPECT_NE(run(as_admin, "kb revoke docs bob" + url).status, 0);  // nothing left to revoke
  EXPECT_EQ(run(as_admin + " DEEPKB_NEW_PASSWORD=bob-password-2", "user passwd bob" + url).status, 0);
  EXPECT_NE(run("DEEPKB_USER=bob DEEPKB_PASSWORD=bob-password-1", "kb list" + url).status, 0);
  EXPECT_EQ(run("DEEPKB_USER=bob DEEPKB_PASSWORD=bob-password-2", "kb list" + url).status, 0);
  EXPECT_EQ(run(as_admin, "user rm bob" + url).status, 0);
  EXPECT_NE(run("DEEPKB_USER=bob DEEPKB_PASSWORD=bob-password-2", "kb list" + url).status, 0);
}

}  // namespace
