// Vault import (issue #6): syncing an Obsidian/Logseq folder into a collection.
//
// The folder is read by the client (deepkb kb import-vault), never by the server: the server
// may run as another user and must not read arbitrary paths. A sync is two steps:
//  1. sync_vault_manifest(): the client lists every note (relative path + vault_file_hash of
//     its bytes). Vault documents of the collection (source "vault:PATH") that are not in the
//     list are deleted (one transaction, when delete_missing); the paths that are new or whose
//     stored hash (metadata "vault.file_hash") differs are returned for upload.
//  2. ingest_vault_note() for each of those: parse_vault_note → chunks + links, stored as
//     document id PATH, source "vault:PATH", metadata "vault.path" and "vault.file_hash"
//     (plus front matter, tags, aliases); the links commit with the document.
// Paths must be relative, '/'-separated, without "." or ".." segments, and end in .md.
// Thread-safety: as the Store and Ingestor. Errors: kInvalidArgument (bad path or note),
// kNotFound (collection), the Store's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "kb/ingestor.h"
#include "kb/store.h"

namespace dkb::kb {

struct VaultManifestEntry {
  std::string path;
  std::string hash;  // vault_file_hash of the file's bytes
};

struct VaultSyncPlan {
  std::vector<std::string> upload;   // new or changed notes, in manifest order
  size_t unchanged = 0;
  std::vector<std::string> deleted;  // vault notes removed from the collection
};

inline constexpr std::string_view kVaultSourcePrefix = "vault:";

std::string vault_file_hash(std::string_view bytes);
Status validate_vault_path(std::string_view path);

Result<VaultSyncPlan> sync_vault_manifest(Store& store, std::string_view collection,
                                          const std::vector<VaultManifestEntry>& manifest,
                                          bool delete_missing = true);

// Returns the put result and, through n_links, how many links the note has.
Result<PutResult> ingest_vault_note(Ingestor& ingestor, const std::string& collection,
                                    const std::string& path, std::string text,
                                    size_t* n_links = nullptr);

}  // namespace dkb::kb
