// deepkb user add|list|rm|passwd: user management on a running server (/v1/admin/users).
// Passwords come from $DEEPKB_NEW_PASSWORD or --password-stdin, never from the command line
// (which other users can read in the process list); without either, `add` lets the server
// generate one and prints it once.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "kb_client.h"

namespace dkb::cli {

namespace {

using nlohmann::json;

// The new password: one line of stdin, else $DEEPKB_NEW_PASSWORD, else "" (none given).
std::string new_password(bool from_stdin) {
  if (from_stdin) {
    std::string line;
    std::getline(std::cin, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    return line;
  }
  const char* env = std::getenv("DEEPKB_NEW_PASSWORD");
  return env ? env : "";
}

}  // namespace

Runner add_user(CLI::App& app) {
  auto s = std::make_shared<ServerOpts>();
  s->add_to(app);
  app.require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto admin = std::make_shared<bool>(false);
  auto pw_stdin = std::make_shared<bool>(false);
  auto models = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"chat", "embeddings"});
  CLI::App* add = app.add_subcommand("add", "create a user");
  add->add_option("name", *name)->required();
  add->add_flag("--admin", *admin, "global administrator");
  add->add_option("--models", *models, "model roles on every model: chat, embeddings (none: no model access)")
      ->check(CLI::IsMember({"chat", "embeddings", "none"}));
  add->add_flag("--password-stdin", *pw_stdin, "read the password from stdin (else $DEEPKB_NEW_PASSWORD, else generated)");
  CLI::App* list = app.add_subcommand("list", "list users");
  CLI::App* rm = app.add_subcommand("rm", "remove a user with their keys and roles");
  rm->add_option("name", *name)->required();
  CLI::App* passwd = app.add_subcommand("passwd", "set a user's password ($DEEPKB_NEW_PASSWORD or --password-stdin)");
  passwd->add_option("name", *name)->required();
  passwd->add_flag("--password-stdin", *pw_stdin, "read the password from stdin");
  for (CLI::App* sub : {add, list, rm, passwd}) sub->fallthrough();
  return [=]() -> int {
    json out;
    if (add->parsed()) {
      json roles = json::array();
      for (const auto& m : *models) {
        if (m != "none") roles.push_back(m);
      }
      json body = {{"username", *name}, {"admin", *admin}, {"models", roles}};
      std::string pw = new_password(*pw_stdin);
      if (!pw.empty()) body["password"] = pw;
      if (!call(*s, "POST", "/v1/admin/users", body, &out)) return 1;
      std::printf("created user %s%s\n", name->c_str(), *admin ? " (admin)" : "");
      if (out.contains("password")) {
        std::printf("password: %s\n(shown once)\n", out["password"].get<std::string>().c_str());
      }
      return 0;
    }
    if (list->parsed()) {
      if (!call(*s, "GET", "/v1/admin/users", nullptr, &out)) return 1;
      for (const auto& u : out["data"]) {
        std::printf("%-24s %s\n", u["name"].get<std::string>().c_str(), u["admin"].get<bool>() ? "admin" : "");
      }
      return 0;
    }
    if (rm->parsed()) {
      if (!call(*s, "DELETE", "/v1/admin/users/" + url_encode(*name), nullptr, &out)) return 1;
      std::printf("removed user %s\n", name->c_str());
      return 0;
    }
    if (passwd->parsed()) {
      std::string pw = new_password(*pw_stdin);
      if (pw.empty()) return fail("give the new password in $DEEPKB_NEW_PASSWORD or with --password-stdin");
      if (!call(*s, "PUT", "/v1/admin/users/" + url_encode(*name) + "/password", {{"password", pw}}, &out)) return 1;
      std::printf("password of %s changed; their sessions must sign in again\n", name->c_str());
      return 0;
    }
    return 2;
  };
}

}  // namespace dkb::cli
