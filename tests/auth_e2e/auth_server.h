// Shared by the authorization end-to-end tests: the real deepkb binary with authentication on
// (users, keys, roles), stories260K for chat and tiny-bert for embeddings, plus helpers to
// sign in, make keys and send JSON with a credential.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/fixtures.h"
#include "support/http_client.h"

namespace dkb::test {

using nlohmann::json;

inline constexpr const char* kAdminPassword = "admin-password-e2e";

// "Authorization: Bearer <credential>", or no header for an empty credential.
inline std::map<std::string, std::string> bearer(const std::string& credential) {
  if (credential.empty()) return {};
  return {{"Authorization", "Bearer " + credential}};
}

class AuthServer {
 public:
  // extra: more serve flags. chat: also load stories260K.
  explicit AuthServer(std::vector<std::string> extra = {}, bool chat = true,
                      std::map<std::string, std::string> env = {{"DEEPKB_ADMIN_PASSWORD", kAdminPassword}}) {
    std::vector<std::string> args = {"--embed-model", fixture_path("models/tiny-bert-F16.gguf"),
                                     "--threads", "2", "--no-warmup", "--ctx-size", "512"};
    if (chat) {
      args.push_back("-m");
      args.push_back(fixture_path("models/stories260K.gguf"));
    }
    args.insert(args.end(), extra.begin(), extra.end());
    ServerProcess::Options opt;
    opt.auth = true;
    opt.env = std::move(env);
    server = std::make_unique<ServerProcess>(DKB_BINARY, args, opt);
  }
  int port() const { return server->port(); }

  HttpResult call(const std::string& method, const std::string& path, const json& body,
                  const std::string& credential) const {
    return http_request(port(), method, path, body.is_null() ? "" : body.dump(), bearer(credential));
  }
  // Signs in; "" on failure.
  std::string login(const std::string& user, const std::string& password) const {
    auto r = call("POST", "/v1/auth/login", {{"username", user}, {"password", password}}, "");
    if (r.status != 200) return "";
    return json::parse(r.body).value("access_token", "");
  }
  // Creates a key (as `admin_token`); "" on failure.
  std::string make_key(const std::string& admin_token, const json& spec) const {
    auto r = call("POST", "/v1/admin/keys", spec, admin_token);
    if (r.status != 201) return "";
    return json::parse(r.body).value("key", "");
  }

  std::unique_ptr<ServerProcess> server;
};

}  // namespace dkb::test
