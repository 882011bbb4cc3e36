// Shared by the client commands of a running server (cmd_kb.cpp, kb_add.cpp,
// kb_import_vault.cpp, cmd_user.cpp, cmd_key.cpp): the server address and credentials, and one
// JSON request. Credentials: --api-key (default $DEEPKB_API_KEY) takes an API key or a login
// token; or --user NAME (default $DEEPKB_USER) with the password in $DEEPKB_PASSWORD, which
// signs in once (POST /v1/auth/login) and uses the token. Nothing secret is printed.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

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

// Percent-encodes a query parameter or path segment.
std::string url_encode(const std::string& v);

// Sends a JSON request (body null: none); prints the server's error and returns false on
// failure (connection error or HTTP status >= 300).
bool call(const ServerOpts& s, const std::string& method, const std::string& target,
          const nlohmann::json& body, nlohmann::json* out);
// Same for an already-encoded body with its Content-Type. *http_status gets the status.
bool call_raw(const ServerOpts& s, const std::string& method, const std::string& target,
              const std::string& body, const std::string& content_type, nlohmann::json* out,
              int* http_status = nullptr);

// Reads a whole file; false when it cannot be read.
bool read_file_bytes(const std::string& path, std::string* out);

// deepkb kb add NAME FILES...: uploads as multipart (batches under the server's body limit);
// jobs are followed with a progress bar on a TTY, plain lines otherwise. Returns the exit code.
int kb_add_files(const ServerOpts& s, const std::string& kb, const std::vector<std::string>& files,
                 bool async);
// deepkb kb import-vault NAME DIR (kb_import_vault.cpp).
int kb_import_vault(const ServerOpts& s, const std::string& kb, const std::string& dir,
                    bool keep_deleted);

}  // namespace dkb::cli
