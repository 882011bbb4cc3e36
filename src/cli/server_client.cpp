#include "server_client.h"

#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "server/http_client.h"

namespace dkb::cli {

using nlohmann::json;

void ServerOpts::add_to(CLI::App& app) {
  const char* env_url = std::getenv("DEEPKB_URL");
  url = env_url ? env_url : "http://127.0.0.1:8080";
  const char* env_key = std::getenv("DEEPKB_API_KEY");
  api_key = env_key ? env_key : "";
  const char* env_user = std::getenv("DEEPKB_USER");
  user = env_user ? env_user : "";
  app.add_option("--url", url, "deepkb server (default $DEEPKB_URL or http://127.0.0.1:8080)");
  app.add_option("--api-key", api_key, "API key or login token (default $DEEPKB_API_KEY)");
  app.add_option("--user", user, "sign in as this user, password from $DEEPKB_PASSWORD (default $DEEPKB_USER)");
}

std::map<std::string, std::string> ServerOpts::headers() const {
  if (!api_key.empty()) return {{"Authorization", "Bearer " + api_key}};
  if (user.empty()) return {};
  if (token_.empty()) {
    const char* pw = std::getenv("DEEPKB_PASSWORD");
    json body = {{"username", user}, {"password", pw ? pw : ""}};
    auto r = server::http::request(url, "POST", "/v1/auth/login", body.dump(), {});
    json j = r.is_ok() ? json::parse(r->body, nullptr, false) : json();
    if (!r.is_ok() || r->status != 200 || !j.is_object() || !j.contains("access_token")) {
      std::fprintf(stderr, "deepkb: sign-in as '%s' failed%s\n", user.c_str(),
                   r.is_ok() ? (" (HTTP " + std::to_string(r->status) + ")").c_str() : "");
      return {};
    }
    token_ = j["access_token"].get<std::string>();
  }
  return {{"Authorization", "Bearer " + token_}};
}

bool call(const ServerOpts& s, const std::string& method, const std::string& target, const json& body,
          json* out) {
  auto r = server::http::request(s.url, method, target, body.is_null() ? "" : body.dump(), s.headers());
  if (!r.is_ok()) {
    fail(r.status().message());
    return false;
  }
  json j = json::parse(r->body, nullptr, false);
  if (r->status >= 300) {
    std::string msg = j.is_object() && j.contains("error")
                          ? (j["error"].is_object() ? j["error"].value("message", r->body) : j["error"].dump())
                          : r->body;
    fail("HTTP " + std::to_string(r->status) + ": " + msg);
    return false;
  }
  if (out) *out = std::move(j);
  return true;
}

std::string url_encode(const std::string& v) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace dkb::cli
