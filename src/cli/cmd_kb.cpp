// deepkb kb … and deepkb ask: clients of a running `deepkb serve` (like the Ollama CLI), so
// they work while the server holds the knowledge base's data directory.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "kb_client.h"
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
    auto r = server::http::request(url, "POST", "/v1/auth/login", body.dump(), {{"Content-Type", "application/json"}});
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

bool call_raw(const ServerOpts& s, const std::string& method, const std::string& target,
              const std::string& body, const std::string& content_type, json* out, int* http_status) {
  auto headers = s.headers();
  if (!content_type.empty()) headers["Content-Type"] = content_type;
  auto r = server::http::request(s.url, method, target, body, headers);
  if (!r.is_ok()) {
    fail(r.status().message());
    return false;
  }
  if (http_status) *http_status = r->status;
  json j = json::parse(r->body, nullptr, false);
  if (r->status >= 300) {
    std::string msg = j.is_object() && j.contains("error") ? (j["error"].is_object() ? j["error"].value("message", r->body) : j["error"].dump()) : r->body;
    fail("HTTP " + std::to_string(r->status) + ": " + msg);
    if (out) *out = std::move(j);
    return false;
  }
  if (out) *out = std::move(j);
  return true;
}

bool call(const ServerOpts& s, const std::string& method, const std::string& target, const json& body,
          json* out) {
  return call_raw(s, method, target, body.is_null() ? "" : body.dump(),
                  body.is_null() ? "" : "application/json", out);
}

bool read_file_bytes(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return !in.bad();
}

Runner add_kb(CLI::App& app) {
  auto s = std::make_shared<ServerOpts>();
  s->add_to(app);
  app.require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto files = std::make_shared<std::vector<std::string>>();
  auto query = std::make_shared<std::string>();
  auto k = std::make_shared<int>(5);
  auto mode = std::make_shared<std::string>("hybrid");
  CLI::App* create = app.add_subcommand("create", "create a knowledge base");
  create->add_option("name", *name)->required();
  CLI::App* list = app.add_subcommand("list", "list knowledge bases");
  CLI::App* rm = app.add_subcommand("rm", "delete a knowledge base and its documents");
  rm->add_option("name", *name)->required();
  auto async = std::make_shared<bool>(false);
  CLI::App* add = app.add_subcommand(
      "add", "add files (txt, md, html, json, pdf, docx, csv, tsv) to a knowledge base");
  add->add_option("name", *name)->required();
  add->add_option("files", *files)->required();
  add->add_flag("--async", *async, "always run as a server-side job (several files always do)");
  auto vault_dir = std::make_shared<std::string>();
  auto keep_deleted = std::make_shared<bool>(false);
  CLI::App* vault = app.add_subcommand(
      "import-vault", "import or re-sync an Obsidian/Logseq folder (links, tags, front matter)");
  vault->add_option("name", *name)->required();
  vault->add_option("path", *vault_dir, "vault folder")->required();
  vault->add_flag("--keep-deleted", *keep_deleted, "keep notes that were deleted from the folder");
  auto grant_user = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>();
  CLI::App* grant = app.add_subcommand("grant", "give a user a role on a knowledge base (admin, editor, viewer)");
  grant->add_option("name", *name)->required();
  grant->add_option("user", *grant_user)->required();
  grant->add_option("role", *role)->required()->check(CLI::IsMember({"admin", "editor", "viewer"}));
  CLI::App* revoke = app.add_subcommand("revoke", "remove a user's role on a knowledge base");
  revoke->add_option("name", *name)->required();
  revoke->add_option("user", *grant_user)->required();
  CLI::App* search = app.add_subcommand("search", "search a knowledge base");
  search->add_option("name", *name)->required();
  search->add_option("query", *query)->required();
  search->add_option("-k,--top-k", *k, "results");
  search->add_option("--mode", *mode, "hybrid, vector or bm25");
  auto maint_name = std::make_shared<std::string>();
  CLI::App* verify = app.add_subcommand("verify", "check a knowledge base (all when none given): SQLite, full-text and vector indexes");
  verify->add_option("name", *maint_name, "knowledge base (default: all)");
  CLI::App* repair = app.add_subcommand("repair", "rebuild what verify finds wrong (all knowledge bases when none given)");
  repair->add_option("name", *maint_name, "knowledge base (default: all)");
  // --url/--api-key may come after the nested command ("deepkb kb add NAME f.md --url ...").
  for (CLI::App* sub : {create, list, rm, add, vault, search, grant, revoke, verify, repair}) sub->fallthrough();
  return [=]() -> int {
    json out;
    if (grant->parsed()) {
      if (!call(*s, "POST", "/v1/admin/grants", {{"user", *grant_user}, {"kb", *name}, {"role", *role}}, &out)) return 1;
      std::printf("%s is now %s of %s\n", grant_user->c_str(), role->c_str(), name->c_str());
      return 0;
    }
    if (revoke->parsed()) {
      std::string target = "/v1/admin/grants?user=" + url_encode(*grant_user) + "&kb=" + url_encode(*name);
      if (!call(*s, "DELETE", target, nullptr, &out)) return 1;
      std::printf("%s has no role on %s any more\n", grant_user->c_str(), name->c_str());
      return 0;
    }
    if (create->parsed()) {
      if (!call(*s, "POST", "/v1/kb", {{"name", *name}}, &out)) return 1;
      std::printf("created %s\n", name->c_str());
      return 0;
    }
    if (list->parsed()) {
      if (!call(*s, "GET", "/v1/kb", nullptr, &out)) return 1;
      for (const auto& c : out["data"]) {
        std::printf("%-24s %8lld chunks\n", c["name"].get<std::string>().c_str(),
                    static_cast<long long>(c.value("chunks", 0)));
      }
      return 0;
    }
    if (rm->parsed()) {
      if (!call(*s, "DELETE", "/v1/kb/" + *name, nullptr, &out)) return 1;
      std::printf("deleted %s\n", name->c_str());
      return 0;
    }
    if (add->parsed()) return kb_add_files(*s, *name, *files, *async);
    if (vault->parsed()) return kb_import_vault(*s, *name, *vault_dir, *keep_deleted);
    if (verify->parsed() || repair->parsed()) {
      const bool fix = repair->parsed();
      std::vector<std::string> names;
      if (!maint_name->empty()) {
        names.push_back(*maint_name);
      } else {
        if (!call(*s, "GET", "/v1/kb", nullptr, &out)) return 1;
        for (const auto& c : out["data"]) names.push_back(c["name"].get<std::string>());
      }
      int dirty = 0;
      for (const auto& n : names) {
        if (!call(*s, "POST", "/v1/kb/" + n + (fix ? "/repair" : "/verify"), json::object(), &out)) return 1;
        for (const auto& r : out["repaired"]) std::printf("%s: repaired: %s\n", n.c_str(), r.get<std::string>().c_str());
        for (const auto& p : out["problems"]) std::printf("%s: PROBLEM: %s\n", n.c_str(), p.get<std::string>().c_str());
        for (const auto& note : out["notes"]) std::printf("%s: note: %s\n", n.c_str(), note.get<std::string>().c_str());
        bool clean = out.value("clean", false);
        std::printf("%s: %s\n", n.c_str(), clean ? "clean" : "problems found (run deepkb kb repair)");
        dirty += clean ? 0 : 1;
      }
      if (names.empty()) std::printf("no knowledge bases\n");
      return dirty ? 1 : 0;
    }
    if (search->parsed()) {
      if (!call(*s, "POST", "/v1/kb/" + *name + "/search", {{"query", *query}, {"top_k", *k}, {"mode", *mode}}, &out)) return 1;
      int i = 0;
      for (const auto& h : out["hits"]) {
        std::printf("%d. %s #%d (score %.4f)\n   %s\n", ++i, h["document"].get<std::string>().c_str(),
                    h["chunk"].get<int>(), h["score"].get<double>(), h["text"].get<std::string>().c_str());
      }
      if (out.contains("note")) std::printf("(%s)\n", out["note"].get<std::string>().c_str());
      return 0;
    }
    return 2;
  };
}

Runner add_ask(CLI::App& app) {
  auto s = std::make_shared<ServerOpts>();
  s->add_to(app);
  auto kb_name = std::make_shared<std::string>();
  auto question = std::make_shared<std::string>();
  auto k = std::make_shared<int>(5);
  auto model = std::make_shared<std::string>();
  app.add_option("kb", *kb_name, "knowledge base")->required();
  app.add_option("question", *question, "question")->required();
  app.add_option("-k,--top-k", *k, "sources to retrieve");
  app.add_option("--model", *model, "chat model id (default: the server's first)");
  auto search = std::make_shared<std::string>("hybrid");
  auto rerank = std::make_shared<bool>(false);
  app.add_option("--search", *search, "retrieval: hybrid, vector or bm25")->check(CLI::IsMember({"hybrid", "vector", "bm25"}));
  app.add_flag("--rerank", *rerank, "rerank candidates by embedding similarity before answering");
  return [=]() -> int {
    json body = {{"question", *question}, {"top_k", *k}, {"stream", true}, {"search", *search}};
    if (*rerank) body["rerank"] = true;
    if (!model->empty()) body["model"] = *model;
    json sources = json::array(), final_event;
    std::string pending;
    auto on_data = [&](const std::string& data) {
      pending += data;
      size_t end;
      while ((end = pending.find("\n\n")) != std::string::npos) {
        std::string ev = pending.substr(0, end);
        pending.erase(0, end + 2);
        if (ev.rfind("data: ", 0) != 0) continue;
        std::string payload = ev.substr(6);
        if (payload == "[DONE]") continue;
        json j = json::parse(payload, nullptr, false);
        if (j.is_discarded()) continue;
        if (j.contains("sources")) sources = j["sources"];
        if (j.contains("delta") && j["delta"].contains("answer")) {
          std::fputs(j["delta"]["answer"].get<std::string>().c_str(), stdout);
          std::fflush(stdout);
        }
        if (j.contains("citations")) final_event = j;
        if (j.contains("error")) std::fprintf(stderr, "\ndeepkb: %s\n", j["error"].dump().c_str());
      }
    };
    auto r = server::http::request(s->url, "POST", "/v1/kb/" + *kb_name + "/ask", body.dump(), s->headers(), on_data);
    if (!r.is_ok()) return fail(r.status().message());
    if (r->status >= 300) return fail("HTTP " + std::to_string(r->status) + ": " + r->body);
    if (!r->body.empty()) {  // a non-streamed answer (nothing found)
      json j = json::parse(r->body, nullptr, false);
      if (j.is_object() && j.contains("answer")) std::fputs(j["answer"].get<std::string>().c_str(), stdout);
    }
    std::printf("\n");
    if (!sources.empty()) {
      std::printf("\nSources:\n");
      for (const auto& src : sources) {
        std::printf("  [%d] %s%s%s\n", src["n"].get<int>(), src["document"].get<std::string>().c_str(),
                    src["heading"].get<std::string>().empty() ? "" : " > ",
                    src["heading"].get<std::string>().c_str());
      }
    }
    return 0;
  };
}

}  // namespace dkb::cli
