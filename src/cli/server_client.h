// Shared by the CLI commands that are clients of a running `deepkb serve` (kb, ask, user,
// key): the server address and credentials, and one JSON request helper.
//
// Credentials: --api-key (default $DEEPKB_API_KEY) takes an API key or a login token; or
// --user NAME (default $DEEPKB_USER) with the password in $DEEPKB_PASSWORD, which signs in
// once (POST /v1/auth/login) and uses the token. Nothing secret is printed.
#pragma once

#include <map>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace dkb::cli {

struct ServerOpts {
  std::string url;
  std::string api_key;
  std::string user;
  void add_to(CLI::App& app);
  // Authorization headers (signs in first when --user is given; empty if that fails).
  std::map<std::string, std::string> headers() const;

 private:
  mutable std::string token_;
};

// Sends a request; prints the server's error and returns false on failure.
bool call(const ServerOpts& s, const std::string& method, const std::string& target,
          const nlohmann::json& body, nlohmann::json* out);

// Percent-encodes a query parameter value.
std::string url_encode(const std::string& v);

}  // namespace dkb::cli
