// Parsing of one Obsidian or Logseq note for vault import (issue #6): the Markdown document
// plus its tags, aliases and outgoing links.
//
// Recognised outside code blocks (fenced, also unterminated, or indented, at any depth, as
// cmark parses the body; see kb/markdown_outline.h) and inline code spans:
//  - YAML front matter (parse_markdown): metadata; "title" → title; "tags"/"tag" and
//    "aliases"/"alias" (a list or a comma-separated string) → tags / aliases.
//  - Logseq properties, lines "key:: value" (optionally as a "- " block): those before the
//    first other line are page properties → metadata (string values); "title::", "alias::"
//    and "tags::" as above. [[links]] in any property value are links.
//  - [[target]], [[target|alias]], [[target#heading]], [[target#^block|alias]] → links;
//    ![[...]] → embeds (embed = true). An empty target ([[#heading]], a link into the note
//    itself) is skipped. A trailing ".md" on the target is dropped.
//  - #tag (after start of line or whitespace; letters, digits, _ - / and non-ASCII; not all
//    digits) and Logseq #[[multi word tag]] → tags; #[[x]] is also a link to page x.
// Tags and aliases are de-duplicated, in first-seen order, stored in metadata "tags" and
// "aliases" (arrays, only when non-empty). The title defaults to the file name without
// extension (Logseq "a___b.md" → "a/b").
// Errors: those of parse_markdown (invalid UTF-8, bad front matter) → kInvalidArgument.
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "kb/parsers.h"
#include "kb/types.h"

namespace dkb::kb {

struct VaultNote {
  ParsedDocument doc;  // text = the body; metadata includes "tags"/"aliases" when present
  std::vector<DocumentLink> links;
  std::vector<std::string> tags;
  std::vector<std::string> aliases;
};

// `path` is the note's path relative to the vault root ("Projects/Plan.md").
Result<VaultNote> parse_vault_note(std::string_view path, std::string_view content);

// Note name for link resolution: lower-cased, surrounding spaces and a leading "./" or "/"
// removed, a trailing ".md" dropped.
std::string normalize_note_name(std::string_view name);

}  // namespace dkb::kb
