// deepkb kb … and deepkb ask: clients of a running `deepkb serve` (like the Ollama CLI), so
// they work while the server holds the knowledge base's data directory.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "kb/parsers.h"
#include "server/http_client.h"
#include "server_client.h"

namespace dkb::cli {
namespace {

using nlohmann::json;

std::string read_whole(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = in.good();
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string format_for(const std::string& path) {
  auto f = kb::format_from_path(path);
  if (!f.is_ok()) return "";
  switch (*f) {
    case kb::Format::kMarkdown: return "markdown";
    case kb::Format::kHtml: return "html";
    case kb::Format::kJson: return "json";
    case kb::Format::kText: return "text";
  }
  return "text";
}

}  // namespace

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
  CLI::App* add = app.add_subcommand("add", "add files (txt, md, html, json) to a knowledge base");
  add->add_option("name", *name)->required();
  add->add_option("files", *files)->required();
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
  // --url/--api-key may come after the nested command ("deepkb kb add NAME f.md --url ...").
  for (CLI::App* sub : {create, list, rm, add, search, grant, revoke}) sub->fallthrough();
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
    if (add->parsed()) {
      int failed = 0;
      size_t done = 0;
      for (const auto& path : *files) {
        bool ok = false;
        std::string content = read_whole(path, &ok);
        std::string fmt = format_for(path);
        ++done;
        if (!ok || fmt.empty()) {
          std::fprintf(stderr, "[%zu/%zu] %s: %s\n", done, files->size(), path.c_str(),
                       ok ? "unsupported file type (txt, md, html, json)" : "cannot read");
          ++failed;
          continue;
        }
        json body = {{"documents", {{{"id", path}, {"text", content}, {"format", fmt}, {"source", path}}}}};
        if (!call(*s, "POST", "/v1/kb/" + *name + "/documents", body, &out)) {
          ++failed;
          continue;
        }
        const json& r = out["results"][0];
        if (r["status"] == "error") {
          std::fprintf(stderr, "[%zu/%zu] %s: %s\n", done, files->size(), path.c_str(),
                       r["error"].get<std::string>().c_str());
          ++failed;
        } else {
          std::printf("[%zu/%zu] %s: %s (%lld chunks)\n", done, files->size(), path.c_str(),
                      r["status"].get<std::string>().c_str(), static_cast<long long>(r.value("chunks", 0)));
        }
      }
      return failed ? 1 : 0;
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
  return [=]() -> int {
    json body = {{"question", *question}, {"top_k", *k}, {"stream", true}};
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
