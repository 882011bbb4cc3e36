#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "base/utf8.h"
#include "kb/ingestor.h"
#include "kb/parsers.h"
#include "kb/sqlite_store.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

using testing::FakeEmbedder;
using testing::TempDir;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = open_sqlite_store(dir_.path() + "/data");
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->create_collection("kb", Json::object(), 0).is_ok());
    IngestOptions o;
    o.chunker.max_tokens = 16;
    o.chunker.overlap_tokens = 0;
    ingestor_ = std::make_unique<Ingestor>(*store_, &embedder_, o);
  }
  Result<PutResult> ingest(const std::string& id, const std::string& content, Format f) {
    IngestRequest req;
    req.collection = "kb";
    req.document_id = id;
    req.content = content;
    req.format = f;
    return ingestor_->ingest(req);
  }
  TempDir dir_;
  FakeEmbedder embedder_{16};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Ingestor> ingestor_;
};

TEST_F(IngestTest, MarkdownFrontMatterHeadingsAndBatchedEmbedding) {
  std::string md =
      "---\n"
      "title: My Note\n"
      "tags: [ai, notes]\n"
      "year: 2024\n"
      "draft: false\n"
      "version: \"2\"\n"
      "author:\n  name: Ann\n"
      "---\n"
      "# Setup\n\nInstall the package first. Then configure it carefully.\n\n"
      "## Run\n\n运行程序。检查输出！完成。\n";
  auto r = ingest("note.md", md, Format::kMarkdown);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->outcome, PutOutcome::kInserted);
  auto doc = store_->get_document("kb", "note.md");
  ASSERT_TRUE(doc.is_ok());
  EXPECT_EQ(doc->title, "My Note");
  EXPECT_EQ(doc->metadata["tags"], Json::array({"ai", "notes"}));
  EXPECT_EQ(doc->metadata["year"], 2024);
  EXPECT_EQ(doc->metadata["draft"], false);
  EXPECT_EQ(doc->metadata["version"], "2");
  EXPECT_EQ(doc->metadata["author.name"], "Ann");
  auto chunks = store_->get_chunks("kb", "note.md");
  ASSERT_TRUE(chunks.is_ok());
  ASSERT_GE(chunks->size(), 2u);
  EXPECT_GT(embedder_.calls, 0);
  for (const auto& c : *chunks) {
    EXPECT_EQ(c.vector.size(), 16u);
    EXPECT_FALSE(c.heading_path.empty());
    EXPECT_EQ(c.text.find("title:"), std::string::npos);  // front matter is not content
  }
  EXPECT_EQ(chunks->back().heading_path, (std::vector<std::string>{"Setup", "Run"}));
  for (const auto& c : *chunks)
    EXPECT_FALSE(c.text.starts_with("#") && c.text.find('\n') == std::string::npos)
        << "heading-only chunk: " << c.text;
  EXPECT_EQ(store_->get_collection("kb")->dimension, 16u);

  // Re-adding unchanged: no embedding, no write.
  int calls = embedder_.calls;
  auto again = ingest("note.md", md, Format::kMarkdown);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->outcome, PutOutcome::kUnchanged);
  EXPECT_EQ(embedder_.calls, calls);
  // Changed: replaced.
  auto changed = ingest("note.md", md + "\nOne more line.\n", Format::kMarkdown);
  ASSERT_TRUE(changed.is_ok());
  EXPECT_EQ(changed->outcome, PutOutcome::kReplaced);
}

TEST_F(IngestTest, MarkdownCjkFrontMatterCrlfAndMalformedConstructs) {
  // Front matter (CRLF) + CJK headings, ATX and setext: offsets are into the body.
  std::string md =
      "---\r\ntitle: 模型手册\r\ntags: [模型, 库]\r\n---\r\n"
      "# 安装\r\n\r\n先安装依赖库。然后编译。\r\n\r\n"
      "配置 模型\r\n---\r\n\r\n```\r\n# 不是标题\r\n```\r\n";
  auto parsed = parse_markdown(md);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->title, "模型手册");
  EXPECT_EQ(parsed->metadata["tags"], Json::array({"模型", "库"}));
  ASSERT_TRUE(parsed->text.starts_with("# 安装\r\n"));
  auto r = ingest("cjk.md", md, Format::kMarkdown);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto chunks = store_->get_chunks("kb", "cjk.md");
  ASSERT_TRUE(chunks.is_ok());
  ASSERT_GE(chunks->size(), 2u);
  EXPECT_EQ(chunks->front().heading_path, (std::vector<std::string>{"安装"}));
  EXPECT_EQ(chunks->back().heading_path, (std::vector<std::string>{"安装", "配置 模型"}));
  for (const auto& c : *chunks) {
    EXPECT_EQ(parsed->text.substr(c.start_offset, c.end_offset - c.start_offset), c.text);
    EXPECT_EQ(c.text.find("title:"), std::string::npos);
  }
  TextQuery q;
  q.text = "标题";  // inside the code block: indexed, not a heading
  auto hits = store_->text_search("kb", q);
  ASSERT_TRUE(hits.is_ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].heading_path, (std::vector<std::string>{"安装", "配置 模型"}));

  // Unterminated fences and lone rules never fail: they are text.
  for (std::string text : {std::string("# Open\n\n```python\ndef f():\n# not a heading\n"),
                           std::string("---"), std::string("---\n\n"),
                           std::string("Intro\n\n---\n\n***\n"), std::string("~~~\n")}) {
    auto lone = ingest("lone.md", text, Format::kMarkdown);
    ASSERT_TRUE(lone.is_ok()) << text << ": " << lone.status().to_string();
    auto c = store_->get_chunks("kb", "lone.md");
    ASSERT_TRUE(c.is_ok());
    ASSERT_FALSE(c->empty()) << text;
    for (const auto& chunk : *c) EXPECT_LE(chunk.heading_path.size(), 1u) << text;
  }
}

TEST_F(IngestTest, HtmlBoilerplateStrippedHeadingsKept) {
  std::string html =
      "<html><head><title>Guide</title><style>p{}</style></head><body>"
      "<nav>Home | About</nav><h1>Intro</h1><p>Hello <b>world</b>.</p>"
      "<script>var x = 1;</script><h2>Details</h2><div>Some   details here.</div>"
      "<footer>Copyright</footer></body></html>";
  auto parsed = parse_html(html);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->title, "Guide");
  EXPECT_EQ(parsed->text, "# Intro\n\nHello world.\n\n## Details\n\nSome details here.\n\n");
  auto r = ingest("page.html", html, Format::kHtml);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto chunks = store_->get_chunks("kb", "page.html");
  ASSERT_TRUE(chunks.is_ok());
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[1].heading_path, (std::vector<std::string>{"Intro", "Details"}));
}

TEST_F(IngestTest, MalformedInputIsRejectedAndNothingStored) {
  struct Case {
    std::string content;
    Format format;
    std::string expect;
  };
  std::vector<Case> cases = {
      {std::string("valid start \xC3\x28 bad"), Format::kText, "invalid UTF-8 at byte offset 12"},
      {"\xED\xA0\x80 surrogate", Format::kMarkdown, "invalid UTF-8"},
      {"---\ntitle: [unclosed\n---\nbody\n", Format::kMarkdown, "not valid YAML"},
      {"---\n- just\n- a list\n---\nbody\n", Format::kMarkdown, "must be a YAML mapping"},
      {"---\ntitle: x\nno closing fence\n", Format::kMarkdown, "never closed"},
      {"   \n\n  ", Format::kText, "no text"},
      {"<html><body><script>x</script></body></html>", Format::kHtml, "no text"},
      {std::string("\x89PNG\r\n\x1a\n\x00\x00\xff", 11), Format::kHtml, "invalid UTF-8"},
  };
  for (const auto& c : cases) {
    auto r = ingest("bad", c.content, c.format);
    ASSERT_FALSE(r.is_ok()) << c.content;
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument) << r.status().to_string();
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().to_string();
  }
  EXPECT_TRUE(store_->list_documents("kb")->empty());
  EXPECT_EQ(*store_->count_chunks("kb"), 0);
  // Oversize documents.
  Ingestor small(*store_, nullptr, [] {
    IngestOptions o;
    o.max_document_bytes = 10;
    return o;
  }());
  IngestRequest req{"kb", "big", std::string(11, 'a'), Format::kText, "", "", Json::object()};
  EXPECT_EQ(small.ingest(req).status().code(), ErrorCode::kInvalidArgument);
  // Unknown collection.
  req.collection = "nope";
  req.content = "text";
  EXPECT_EQ(small.ingest(req).status().code(), ErrorCode::kNotFound);
}

TEST_F(IngestTest, JsonRecordsBecomeParagraphs) {
  auto parsed = parse_json_document(
      R"([{"name": "Ada", "langs": ["en", "fr"], "addr": {"city": "London"}}, {"name": "林", "n": 2}])");
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->text, "name: Ada\nlangs: en, fr\naddr.city: London\n\nname: 林\nn: 2\n\n");
  auto r = ingest("people.json", R"({"title": "People", "items": [{"who": "Grace Hopper"}]})",
                  Format::kJson);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(store_->get_document("kb", "people.json")->title, "People");
  TextQuery q;
  q.text = "hopper";
  EXPECT_EQ(store_->text_search("kb", q)->size(), 1u);
  auto bad = ingest("bad.json", "{\"a\": ", Format::kJson);
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("not valid JSON"), std::string::npos);
  std::string deep(100, '[');
  EXPECT_EQ(parse_json_document(deep + std::string(100, ']')).status().code(),
            ErrorCode::kInvalidArgument);
}

class FailingEmbedder : public Embedder {
 public:
  size_t dimension() const override { return 4; }
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string>) override {
    return internal_error("model crashed");
  }
};

TEST_F(IngestTest, EmbedderFailureStoresNothing) {
  FailingEmbedder bad;
  Ingestor ing(*store_, &bad);
  IngestRequest req{"kb", "doc", "some text", Format::kText, "", "", Json::object()};
  auto r = ing.ingest(req);
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("model crashed"), std::string::npos);
  EXPECT_EQ(store_->get_document("kb", "doc").status().code(), ErrorCode::kNotFound);
}

TEST_F(IngestTest, IngestFileDetectsFormat) {
  std::string path = dir_.path() + "/readme.md";
  {
    std::ofstream out(path);
    out << "# Title\n\nBody text.\n";
  }
  auto r = ingestor_->ingest_file("kb", path, "readme");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  auto doc = store_->get_document("kb", "readme");
  ASSERT_TRUE(doc.is_ok());
  EXPECT_EQ(doc->title, "Title");
  EXPECT_EQ(doc->source, path);
  EXPECT_EQ(ingestor_->ingest_file("kb", dir_.path() + "/x.pptx").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ingestor_->ingest_file("kb", dir_.path() + "/missing.txt").status().code(),
            ErrorCode::kNotFound);
  // A batch: the bad file is reported with its reason, the good ones still go in.
  std::string good = dir_.path() + "/good.txt", bad = dir_.path() + "/bad.md";
  std::ofstream(good) << "good text";
  std::ofstream(bad) << "---\ntitle: [oops\n---\nbody";
  auto results = ingestor_->ingest_files("kb", {good, bad, path});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].is_ok());
  EXPECT_NE(results[1].status().message().find("bad.md"), std::string::npos);
  EXPECT_NE(results[1].status().message().find("YAML"), std::string::npos);
  EXPECT_TRUE(results[2].is_ok());
  EXPECT_TRUE(store_->get_document("kb", good).is_ok());
  EXPECT_EQ(store_->get_document("kb", bad).status().code(), ErrorCode::kNotFound);
}

// Parsers and the chunker take untrusted bytes: random input never crashes them and every
// chunk they produce is valid UTF-8 and inside the text.
// An embedder with a tokenizer: chunk budgets are counted in its tokens (here: words) and
// capped at what it embeds without truncation, whatever the configured max_tokens.
class WordTokenEmbedder : public FakeEmbedder {
 public:
  WordTokenEmbedder() : FakeEmbedder(16) {}
  TokenCounter token_counter() const override {
    return [](std::string_view t) {
      size_t words = 0;
      bool in = false;
      for (char c : t) {
        const bool space = c == ' ' || c == '\n' || c == '\t';
        if (!space && !in) ++words;
        in = !space;
      }
      return words;
    };
  }
  size_t max_input_tokens() const override { return 6; }
};

TEST_F(IngestTest, ChunkBudgetsUseTheEmbeddersTokenizer) {
  WordTokenEmbedder words;
  Ingestor ing(*store_, &words);  // default options: max_tokens 256
  std::string text =
      "one two three four. five six seven eight. nine ten eleven twelve. thirteen fourteen.";
  IngestRequest req{"kb", "words", text, Format::kText, "", "", Json::object()};
  ASSERT_TRUE(ing.ingest(req).is_ok());
  auto chunks = store_->get_chunks("kb", "words");
  ASSERT_TRUE(chunks.is_ok());
  ASSERT_GE(chunks->size(), 3u);  // 14 words, at most 6 per chunk
  for (const auto& c : *chunks) {
    EXPECT_LE(words.token_counter()(c.text), 6u) << c.text;
  }
  EXPECT_NE(chunks->front().text.find("one two three four."), std::string::npos);
  // Without a tokenizer the same text fits one chunk of the default budget.
  FakeEmbedder plain(16);
  Ingestor approx(*store_, &plain);
  req.document_id = "approx";
  ASSERT_TRUE(approx.ingest(req).is_ok());
  EXPECT_EQ(store_->get_chunks("kb", "approx")->size(), 1u);
}

TEST(ParserRobustness, RandomInputs) {
  std::mt19937 rng(1234);
  const std::vector<std::string> pieces = {"#",    "---\n",    "\n",    "\n\n", "<p>",   "</div>",
                                           "<h2>", "{",        "}",     "[",    "]",     "\"",
                                           ":",    "。",       "模型",  "a b",  "```\n", "\f",
                                           "\xff", "\xe6\x97", "- x\n", "!",    ". ",    "？"};
  for (int iter = 0; iter < 300; ++iter) {
    std::string s;
    int n = static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
    for (Format f : {Format::kText, Format::kMarkdown, Format::kHtml, Format::kJson}) {
      auto parsed = parse_document(s, f);
      if (!parsed.is_ok()) {
        EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument);
        continue;
      }
      ChunkerOptions opt;
      opt.max_tokens = 1 + rng() % 8;
      opt.overlap_tokens = rng() % 4;
      opt.markdown = parsed->markdown;
      for (const auto& c : chunk_text(parsed->text, opt)) {
        EXPECT_TRUE(utf8::is_valid(c.text));
        EXPECT_LE(c.end, parsed->text.size());
        EXPECT_FALSE(c.text.empty());
      }
    }
  }
}

}  // namespace
}  // namespace dkb::kb
