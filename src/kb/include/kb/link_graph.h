// The link graph of a collection (vault import, issue #6): documents are nodes, stored links
// (Store::list_links) are edges, resolved to documents when read.
//
// Resolution of a link target (normalize_note_name applied to both sides), first match wins:
//  1. a document whose id without its extension equals the target ("Projects/Plan");
//  2. a document whose file name without extension, title or one of its metadata "aliases"
//     equals the target — the lexicographically smallest id when several do.
// A target that matches nothing is an unresolved edge (resolved = false, target = the name
// as written) and appears once among the nodes with unresolved = true.
// Thread-safety: pure functions over a Store (whose reads are thread-safe).
// Errors: the Store's (kNotFound for an unknown collection).
#pragma once

#include <string>
#include <vector>

#include "kb/store.h"

namespace dkb::kb {

struct GraphNode {
  std::string id;  // document id, or the written name of an unresolved target
  std::string title;
  std::vector<std::string> tags;  // metadata "tags"
  bool unresolved = false;
};

struct GraphEdge {
  std::string source;  // document id
  std::string target;  // document id when resolved, else the target as written
  bool resolved = false;
  DocumentLink link;  // as written
};

struct LinkGraph {
  std::vector<GraphNode> nodes;  // documents by id, then unresolved names
  std::vector<GraphEdge> edges;  // by source id, then position in the source
};

Result<LinkGraph> build_link_graph(Store& store, std::string_view collection);

// Resolved edges pointing at `doc_id`, by source id.
std::vector<GraphEdge> backlinks_of(const LinkGraph& graph, std::string_view doc_id);

}  // namespace dkb::kb
