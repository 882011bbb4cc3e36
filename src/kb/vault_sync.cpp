// Vault sync: manifest comparison, pruning of deleted notes, note ingestion
// (see kb/vault_sync.h).
#include "kb/vault_sync.h"

#include <map>
#include <set>

#include "kb/hash.h"
#include "kb/vault_note.h"

namespace dkb::kb {

std::string vault_file_hash(std::string_view bytes) { return content_hash({"vault-note", bytes}); }

Status validate_vault_path(std::string_view path) {
  if (path.empty() || path.size() > 512) return invalid_argument("note path must be 1..512 bytes");
  if (path.front() == '/') return invalid_argument("note path must be relative: " + std::string(path));
  if (!path.ends_with(".md") && !path.ends_with(".MD") && !path.ends_with(".markdown")) {
    return invalid_argument("note path must end in .md: " + std::string(path));
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view seg = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (seg.empty() || seg == "." || seg == "..") {
      return invalid_argument("note path has an empty, '.' or '..' segment: " + std::string(path));
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos) {
    return invalid_argument("note path must use '/' and no NUL: " + std::string(path));
  }
  return Status::ok();
}

Result<VaultSyncPlan> sync_vault_manifest(Store& store, std::string_view collection,
                                          const std::vector<VaultManifestEntry>& manifest,
                                          bool delete_missing) {
  std::set<std::string> seen;
  for (const auto& e : manifest) {
    DKB_RETURN_IF_ERROR(validate_vault_path(e.path));
    if (!seen.insert(e.path).second) return invalid_argument("note listed twice: " + e.path);
  }
  DKB_ASSIGN_OR_RETURN(std::vector<Document> docs, store.list_documents(collection));
  std::map<std::string, std::string> stored;  // vault path → file hash
  for (const Document& d : docs) {
    if (!d.source.starts_with(kVaultSourcePrefix)) continue;
    auto h = d.metadata.find("vault.file_hash");
    stored[d.id] = h != d.metadata.end() && h->is_string() ? h->get<std::string>() : "";
  }
  VaultSyncPlan plan;
  for (const auto& e : manifest) {
    auto it = stored.find(e.path);
    if (it != stored.end() && it->second == e.hash) ++plan.unchanged;
    else plan.upload.push_back(e.path);
  }
  if (delete_missing) {
    for (const auto& [path, hash] : stored) {
      if (!seen.contains(path)) plan.deleted.push_back(path);
    }
    if (!plan.deleted.empty()) {
      DKB_RETURN_IF_ERROR(store.delete_documents(collection, plan.deleted).status());
    }
  }
  return plan;
}

Result<PutResult> ingest_vault_note(Ingestor& ingestor, const std::string& collection,
                                    const std::string& path, std::string text, size_t* n_links) {
  DKB_RETURN_IF_ERROR(validate_vault_path(path));
  auto note = parse_vault_note(path, text);
  if (!note.is_ok()) return note.status().with_context("note " + path);
  // An empty note (only front matter or properties) is still a node of the graph: its title
  // stands in as its text.
  if (note->doc.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    note->doc.text = note->doc.title;
  }
  IngestRequest req;
  req.collection = collection;
  req.document_id = path;
  req.format = Format::kMarkdown;
  req.source = std::string(kVaultSourcePrefix) + path;
  req.title = note->doc.title;
  req.metadata = {{"vault.path", path}, {"vault.file_hash", vault_file_hash(text)}};
  req.content = std::move(text);
  if (n_links) *n_links = note->links.size();
  return ingestor.ingest_parsed(req, std::move(note->doc), std::move(note->links));
}

}  // namespace dkb::kb
