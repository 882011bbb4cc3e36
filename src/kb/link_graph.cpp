// Link graph assembly and link resolution (see kb/link_graph.h).
#include "kb/link_graph.h"

#include <map>
#include <set>

#include "kb/vault_note.h"

namespace dkb::kb {
namespace {

std::string without_extension(std::string_view id) {
  size_t slash = id.rfind('/');
  size_t dot = id.rfind('.');
  if (dot != std::string_view::npos && (slash == std::string_view::npos || dot > slash + 1)) {
    return std::string(id.substr(0, dot));
  }
  return std::string(id);
}

std::vector<std::string> strings_of(const Json& v) {
  std::vector<std::string> out;
  if (v.is_string()) out.push_back(v.get<std::string>());
  if (v.is_array()) {
    for (const auto& e : v) {
      if (e.is_string()) out.push_back(e.get<std::string>());
    }
  }
  return out;
}

}  // namespace

Result<LinkGraph> build_link_graph(Store& store, std::string_view collection) {
  DKB_ASSIGN_OR_RETURN(std::vector<Document> docs, store.list_documents(collection));
  DKB_ASSIGN_OR_RETURN(std::vector<LinkRecord> links, store.list_links(collection));
  // Documents come ordered by id, so the first insertion of a name is the smallest id.
  std::map<std::string, std::string> by_path, by_name;
  LinkGraph g;
  for (const Document& d : docs) {
    std::string stem = without_extension(d.id);
    by_path.emplace(normalize_note_name(stem), d.id);
    size_t slash = stem.rfind('/');
    std::string base = slash == std::string::npos ? stem : stem.substr(slash + 1);
    std::vector<std::string> names = {base, d.title};
    if (base.find("___") != std::string::npos) {  // Logseq namespaced page file
      std::string ns = base;
      for (size_t p = 0; (p = ns.find("___", p)) != std::string::npos;) ns.replace(p, 3, "/");
      names.push_back(ns);
    }
    if (auto it = d.metadata.find("aliases"); it != d.metadata.end()) {
      for (auto& a : strings_of(*it)) names.push_back(a);
    }
    for (const auto& n : names) {
      std::string key = normalize_note_name(n);
      if (!key.empty()) by_name.emplace(key, d.id);
    }
    GraphNode node;
    node.id = d.id;
    node.title = d.title;
    if (auto it = d.metadata.find("tags"); it != d.metadata.end()) node.tags = strings_of(*it);
    g.nodes.push_back(std::move(node));
  }
  std::set<std::string> unresolved;
  for (LinkRecord& r : links) {
    GraphEdge e;
    e.source = r.source_id;
    std::string key = normalize_note_name(r.link.target);
    const std::string* found = nullptr;
    if (auto p = by_path.find(key); p != by_path.end()) found = &p->second;
    else if (auto n = by_name.find(key); n != by_name.end()) found = &n->second;
    if (found != nullptr) {
      e.resolved = true;
      e.target = *found;
    } else {
      e.target = r.link.target;
      unresolved.insert(r.link.target);
    }
    e.link = std::move(r.link);
    g.edges.push_back(std::move(e));
  }
  for (const auto& name : unresolved) {
    GraphNode node;
    node.id = name;
    node.title = name;
    node.unresolved = true;
    g.nodes.push_back(std::move(node));
  }
  return g;
}

std::vector<GraphEdge> backlinks_of(const LinkGraph& graph, std::string_view doc_id) {
  std::vector<GraphEdge> out;
  for (const GraphEdge& e : graph.edges) {
    if (e.resolved && e.target == doc_id) out.push_back(e);
  }
  return out;
}

}  // namespace dkb::kb
