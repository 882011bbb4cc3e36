// deepkb key create|list|revoke: API keys on a running server (/v1/admin/keys). The key is
// printed once by `create`; the server keeps only its hash.
#include <cstdio>

#include "commands.h"
#include "kb_client.h"

namespace dkb::cli {

using nlohmann::json;

Runner add_key(CLI::App& app) {
  auto s = std::make_shared<ServerOpts>();
  s->add_to(app);
  app.require_subcommand(1);
  auto owner = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto actions = std::make_shared<std::vector<std::string>>();
  auto kbs = std::make_shared<std::vector<std::string>>();
  auto expires = std::make_shared<int64_t>(0);
  auto rate = std::make_shared<int64_t>(0);
  auto id = std::make_shared<std::string>();
  CLI::App* create = app.add_subcommand("create", "create an API key (printed once)");
  create->add_option("--for", *owner, "the user the key acts for (default: yourself)");
  create->add_option("--name", *name, "a label");
  create->add_option("--action", *actions, "allow only these actions (kb.read, kb.write, kb.delete, "
                     "kb.manage, kb.create, model.chat, model.embeddings, …; repeatable)");
  create->add_option("--kb", *kbs, "allow only these knowledge bases (repeatable)");
  create->add_option("--expires-in", *expires, "seconds until the key expires (0: never)");
  create->add_option("--rate-limit", *rate, "requests per minute for this key (0: server default)");
  CLI::App* list = app.add_subcommand("list", "list API keys (never their secrets)");
  list->add_option("--for", *owner, "only this user's keys");
  CLI::App* revoke = app.add_subcommand("revoke", "revoke an API key by id");
  revoke->add_option("id", *id)->required();
  for (CLI::App* sub : {create, list, revoke}) sub->fallthrough();
  return [=]() -> int {
    json out;
    if (create->parsed()) {
      json body = {{"name", *name}, {"actions", *actions}, {"kbs", *kbs}, {"expires_in", *expires},
                   {"rate_limit", *rate}};
      if (!owner->empty()) body["user"] = *owner;
      if (!call(*s, "POST", "/v1/admin/keys", body, &out)) return 1;
      std::printf("%s\n", out["key"].get<std::string>().c_str());
      std::fprintf(stderr, "key %s for %s (shown once; only its hash is stored)\n",
                   out["id"].get<std::string>().c_str(), out["user"].get<std::string>().c_str());
      return 0;
    }
    if (list->parsed()) {
      std::string target = "/v1/admin/keys" + (owner->empty() ? "" : "?user=" + url_encode(*owner));
      if (!call(*s, "GET", target, nullptr, &out)) return 1;
      for (const auto& k : out["data"]) {
        std::printf("%-14s %-16s %-16s %s\n", k["id"].get<std::string>().c_str(),
                    k["user"].get<std::string>().c_str(), k["name"].get<std::string>().c_str(),
                    !k["revoked"].is_null() ? "revoked" : "active");
      }
      return 0;
    }
    if (revoke->parsed()) {
      if (!call(*s, "DELETE", "/v1/admin/keys/" + url_encode(*id), nullptr, &out)) return 1;
      std::printf("revoked %s\n", id->c_str());
      return 0;
    }
    return 2;
  };
}

}  // namespace dkb::cli
