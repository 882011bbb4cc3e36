// Vault import: note parsing (links, aliases, headings, embeds, tags, front matter, Logseq
// properties), the link graph with backlinks, and re-sync after edits and deletions.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "kb/link_graph.h"
#include "kb/sqlite_store.h"
#include "kb/vault_note.h"
#include "kb/vault_sync.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

DocumentLink link(std::string target, std::string heading = "", std::string alias = "",
                  bool embed = false) {
  return DocumentLink{std::move(target), std::move(heading), std::move(alias), embed};
}

TEST(VaultNote, LinksTagsAliasesAndFrontMatter) {
  fs::path vault = fs::path(DKB_KB_TEST_DATA) / "vault";
  auto home = parse_vault_note("Home.md", read(vault / "Home.md"));
  ASSERT_TRUE(home.is_ok()) << home.status().to_string();
  EXPECT_EQ(home->doc.title, "Home");
  EXPECT_EQ(home->links, (std::vector<DocumentLink>{link("Projects/Plan", "", "the plan"),
                                                    link("Ideas", "Later"),
                                                    link("Ideas", "", "", true)}));
  EXPECT_EQ(home->tags, (std::vector<std::string>{"index", "overview"}));
  EXPECT_EQ(home->aliases, (std::vector<std::string>{"Start"}));
  EXPECT_EQ(home->doc.metadata["tags"], Json({"index", "overview"}));

  auto logseq = parse_vault_note("pages/Logseq Page.md", read(vault / "pages/Logseq Page.md"));
  ASSERT_TRUE(logseq.is_ok()) << logseq.status().to_string();
  EXPECT_EQ(logseq->doc.title, "Logseq Page");
  EXPECT_EQ(logseq->aliases, (std::vector<std::string>{"LP"}));
  EXPECT_EQ(logseq->tags, (std::vector<std::string>{"project", "research", "deep work"}));
  EXPECT_EQ(logseq->links, (std::vector<DocumentLink>{link("project"), link("Ideas"),
                                                      link("deep work")}));
  EXPECT_FALSE(logseq->doc.metadata.contains("status"));  // a block property, not the page's

  auto untitled = parse_vault_note("a/b___c.md", "no links, #123 is not a tag, x#y neither");
  ASSERT_TRUE(untitled.is_ok());
  EXPECT_EQ(untitled->doc.title, "b/c");
  EXPECT_TRUE(untitled->tags.empty());
  EXPECT_TRUE(untitled->links.empty());
}

TEST(VaultNote, CodeBlocksAsCmarkSeesThemHoldNoLinksOrTags) {
  auto note = parse_vault_note(
      "n.md",
      "Intro [[Real]] #real\n\n"
      "    [[Indented]] #indented\n\n"
      "- block\n  ```\n  [[InList]] #inlist\n  ```\n- after [[After]]\n\n"
      "````\n```\n[[Nested]] #nested\n````\n\n"
      "Text `[[Span]]` [[Tail]]\r\n\r\n"
      "```\n[[Unterminated]] #open\n\nstill code #code\n");
  ASSERT_TRUE(note.is_ok()) << note.status().to_string();
  EXPECT_EQ(note->links, (std::vector<DocumentLink>{link("Real"), link("After"), link("Tail")}));
  EXPECT_EQ(note->tags, (std::vector<std::string>{"real"}));
}

TEST(VaultNote, MalformedNotesAndPaths) {
  EXPECT_FALSE(parse_vault_note("x.md", "---\ntitle: [unclosed\n---\nbody").is_ok());
  EXPECT_FALSE(parse_vault_note("x.md", "bad \xff utf8").is_ok());
  auto unclosed = parse_vault_note("x.md", "a [[never closed link");
  ASSERT_TRUE(unclosed.is_ok());
  EXPECT_TRUE(unclosed->links.empty());
  for (const char* p : {"", "/etc/passwd.md", "../up.md", "a//b.md", "a/./b.md", "note.txt"}) {
    EXPECT_EQ(validate_vault_path(p).code(), ErrorCode::kInvalidArgument) << p;
  }
  EXPECT_TRUE(validate_vault_path("Projects/Plan.md").is_ok());
}

class VaultSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = open_sqlite_store(dir_.path() + "/data");
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->create_collection("notes", Json::object(), 0).is_ok());
    ingestor_ = std::make_unique<Ingestor>(*store_, nullptr);
    vault_ = fs::path(dir_.path()) / "vault";
    fs::copy(fs::path(DKB_KB_TEST_DATA) / "vault", vault_, fs::copy_options::recursive);
  }
  // What `deepkb kb import-vault` does, minus HTTP: manifest, then upload what changed.
  VaultSyncPlan sync() {
    std::vector<VaultManifestEntry> manifest;
    for (const auto& e : fs::recursive_directory_iterator(vault_)) {
      std::string rel = fs::relative(e.path(), vault_).generic_string();
      if (!e.is_regular_file() || rel.starts_with(".") || !rel.ends_with(".md")) continue;
      manifest.push_back({rel, vault_file_hash(read(e.path()))});
    }
    auto plan = sync_vault_manifest(*store_, "notes", manifest);
    EXPECT_TRUE(plan.is_ok()) << plan.status().to_string();
    for (const auto& p : plan->upload) {
      auto put = ingest_vault_note(*ingestor_, "notes", p, read(vault_ / p));
      EXPECT_TRUE(put.is_ok()) << p << ": " << put.status().to_string();
    }
    std::sort(plan->upload.begin(), plan->upload.end());
    return *plan;
  }
  static std::vector<std::string> edges(const LinkGraph& g) {
    std::vector<std::string> out;
    for (const auto& e : g.edges) {
      out.push_back(e.source + " -> " + e.target + (e.resolved ? "" : " (unresolved)") +
                    (e.link.embed ? " [embed]" : "") +
                    (e.link.heading.empty() ? "" : " #" + e.link.heading) +
                    (e.link.alias.empty() ? "" : " |" + e.link.alias));
    }
    return out;
  }
  static std::vector<std::string> nodes(const LinkGraph& g) {
    std::vector<std::string> out;
    for (const auto& n : g.nodes) out.push_back(n.id + (n.unresolved ? " (unresolved)" : ""));
    return out;
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Ingestor> ingestor_;
  fs::path vault_;
};

TEST_F(VaultSyncTest, ImportBuildsTheGraphAndResyncFollowsEditsAndDeletes) {
  VaultSyncPlan first = sync();
  EXPECT_EQ(first.upload, (std::vector<std::string>{"Home.md", "Ideas.md", "Projects/Plan.md",
                                                    "pages/Logseq Page.md"}));
  EXPECT_TRUE(first.deleted.empty());
  auto g = build_link_graph(*store_, "notes");
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  EXPECT_EQ(nodes(*g), (std::vector<std::string>{
                           "Home.md", "Ideas.md", "Projects/Plan.md", "pages/Logseq Page.md",
                           "Missing Note (unresolved)", "deep work (unresolved)",
                           "project (unresolved)"}));
  EXPECT_EQ(edges(*g), (std::vector<std::string>{
                           "Home.md -> Projects/Plan.md |the plan",
                           "Home.md -> Ideas.md #Later",
                           "Home.md -> Ideas.md [embed]",
                           "Ideas.md -> Home.md",  // [[start]]: Home's alias, any case
                           "Ideas.md -> Projects/Plan.md",  // [[Plan.md]]: by file name
                           "Projects/Plan.md -> Home.md",
                           "Projects/Plan.md -> Missing Note (unresolved)",
                           "pages/Logseq Page.md -> project (unresolved)",
                           "pages/Logseq Page.md -> Ideas.md",
                           "pages/Logseq Page.md -> deep work (unresolved)"}));
  std::vector<std::string> back;
  for (const auto& e : backlinks_of(*g, "Ideas.md")) back.push_back(e.source);
  EXPECT_EQ(back, (std::vector<std::string>{"Home.md", "Home.md", "pages/Logseq Page.md"}));
  auto home = store_->get_document("notes", "Home.md");
  ASSERT_TRUE(home.is_ok());
  EXPECT_EQ(home->title, "Home");
  EXPECT_EQ(home->source, "vault:Home.md");
  EXPECT_EQ(home->metadata["aliases"], Json({"Start"}));
  TextQuery q;
  q.text = "Hidden";  // fenced code is still searchable text, just not a link
  EXPECT_EQ(store_->text_search("notes", q)->size(), 1u);

  // Unchanged folder: nothing to upload.
  VaultSyncPlan again = sync();
  EXPECT_TRUE(again.upload.empty());
  EXPECT_EQ(again.unchanged, 4u);

  // Edit one note, delete another.
  std::ofstream(vault_ / "Projects/Plan.md") << "# Plan\n\nNow see [[Ideas|ideas]] only.\n";
  fs::remove(vault_ / "pages/Logseq Page.md");
  VaultSyncPlan third = sync();
  EXPECT_EQ(third.upload, (std::vector<std::string>{"Projects/Plan.md"}));
  EXPECT_EQ(third.unchanged, 2u);
  EXPECT_EQ(third.deleted, (std::vector<std::string>{"pages/Logseq Page.md"}));
  g = build_link_graph(*store_, "notes");
  ASSERT_TRUE(g.is_ok());
  EXPECT_EQ(nodes(*g),
            (std::vector<std::string>{"Home.md", "Ideas.md", "Projects/Plan.md"}));
  EXPECT_EQ(edges(*g), (std::vector<std::string>{
                           "Home.md -> Projects/Plan.md |the plan",
                           "Home.md -> Ideas.md #Later",
                           "Home.md -> Ideas.md [embed]",
                           "Ideas.md -> Home.md",
                           "Ideas.md -> Projects/Plan.md",
                           "Projects/Plan.md -> Ideas.md |ideas"}));
  EXPECT_EQ(store_->get_document("notes", "pages/Logseq Page.md").status().code(),
            ErrorCode::kNotFound);
}

TEST_F(VaultSyncTest, PruningSparesDocumentsNotFromTheVaultAndBadManifestsChangeNothing) {
  IngestRequest other;
  other.collection = "notes";
  other.document_id = "manual.txt";
  other.content = "added with kb add";
  ASSERT_TRUE(ingestor_->ingest(other).is_ok());
  sync();
  auto plan = sync_vault_manifest(*store_, "notes", {});  // every note deleted from the folder
  ASSERT_TRUE(plan.is_ok());
  EXPECT_EQ(plan->deleted.size(), 4u);
  auto docs = store_->list_documents("notes");
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ((*docs)[0].id, "manual.txt");
  EXPECT_TRUE(store_->list_links("notes")->empty());  // links went with their documents

  sync();
  auto dup = sync_vault_manifest(*store_, "notes", {{"Home.md", "x"}, {"Home.md", "y"}});
  EXPECT_EQ(dup.status().code(), ErrorCode::kInvalidArgument);
  auto escape = sync_vault_manifest(*store_, "notes", {{"../secret.md", "x"}});
  EXPECT_EQ(escape.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->list_documents("notes")->size(), 5u);  // nothing pruned by a bad manifest
  EXPECT_EQ(sync_vault_manifest(*store_, "nope", {}).status().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace dkb::kb
