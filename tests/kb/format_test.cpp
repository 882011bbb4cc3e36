// PDF, DOCX and CSV parsing and format detection, on committed fixtures (tests/kb/data) and
// on malformed inputs.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "kb/ingestor.h"
#include "kb/parsers.h"
#include "kb/sqlite_store.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

std::string data_file(const std::string& name) {
  std::ifstream in(std::string(DKB_KB_TEST_DATA) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PdfParser, TextPerPageTitleAndAuthor) {
  auto doc = parse_pdf(data_file("two_pages.pdf"));
  ASSERT_TRUE(doc.is_ok()) << doc.status().to_string();
  EXPECT_TRUE(doc->paged);
  EXPECT_EQ(doc->title, "Deepkb Manual");
  EXPECT_EQ(doc->metadata["author"], "Ada");
  EXPECT_EQ(doc->metadata["pdf.pages"], 2);
  size_t ff = doc->text.find('\f');
  ASSERT_NE(ff, std::string::npos);
  EXPECT_EQ(doc->text.find('\f', ff + 1), std::string::npos);
  EXPECT_NE(doc->text.substr(0, ff).find("Installing deepkb on Linux"), std::string::npos);
  EXPECT_NE(doc->text.substr(ff).find("Searching with BM25"), std::string::npos);
}

TEST(PdfParser, RejectsGarbageTruncatedAndEncrypted) {
  auto garbage = parse_pdf(std::string("\x89PNG\r\n\x1a\n\0\0binary", 16));
  ASSERT_FALSE(garbage.is_ok());
  EXPECT_EQ(garbage.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(garbage.status().message().find("no %PDF- header"), std::string::npos);
  auto header_only = parse_pdf("%PDF-1.4\n\x01\x02\x03 garbage without objects\n");
  ASSERT_FALSE(header_only.is_ok());
  EXPECT_EQ(header_only.status().code(), ErrorCode::kInvalidArgument);
  auto locked = parse_pdf(data_file("encrypted.pdf"));
  ASSERT_FALSE(locked.is_ok());
  EXPECT_NE(locked.status().message().find("encrypted"), std::string::npos)
      << locked.status().to_string();
}

TEST(DocxParser, HeadingsParagraphsTablesAndCoreProperties) {
  auto doc = parse_docx(data_file("report.docx"));
  ASSERT_TRUE(doc.is_ok()) << doc.status().to_string();
  EXPECT_TRUE(doc->markdown);
  EXPECT_EQ(doc->title, "Quarterly Report");
  EXPECT_EQ(doc->metadata["author"], "Grace");
  EXPECT_EQ(doc->text,
            "# Quarterly Report\n\n# Revenue\n\nRevenue grew by twelve percent.\n\n## Europe\n\n"
            "Sales in Europe\tdoubled.\n\nRegion | Q1 | Q2\nEU | 10 | 20\n\n# Costs\n\n"
            "Costs stayed flat.");
}

TEST(DocxParser, RejectsNonDocxZipsAndGarbage) {
  auto zip = parse_docx(data_file("not_docx.zip"));
  ASSERT_FALSE(zip.is_ok());
  EXPECT_NE(zip.status().message().find("no word/document.xml"), std::string::npos);
  auto garbage = parse_docx("PK\x03\x04 this is not really a zip archive at all");
  ASSERT_FALSE(garbage.is_ok());
  EXPECT_EQ(garbage.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(garbage.status().message().find("not a valid zip"), std::string::npos);
}

TEST(CsvParser, HeaderRowsBecomeColumnValueLines) {
  auto doc = parse_csv(
      "name,city,note\nAda,London,\"likes \"\"engines\"\", maths\"\nLin,\"Bei\njing\",\n");
  ASSERT_TRUE(doc.is_ok()) << doc.status().to_string();
  EXPECT_EQ(doc->text,
            "name: Ada\ncity: London\nnote: likes \"engines\", maths\n\nname: Lin\ncity: Bei jing\n");
  EXPECT_EQ(doc->metadata["csv.columns"], Json({"name", "city", "note"}));
  EXPECT_EQ(doc->metadata["csv.rows"], 2);
  EXPECT_EQ(doc->row_starts, (std::vector<size_t>{0, 53}));
  auto tsv = parse_csv("a\tb\n1\t2\n", '\t');
  ASSERT_TRUE(tsv.is_ok());
  EXPECT_EQ(tsv->text, "a: 1\nb: 2\n");
}

TEST(CsvParser, MalformedInputsNameTheProblem) {
  auto quote = parse_csv("a,b\n\"x\"y,2\n");
  ASSERT_FALSE(quote.is_ok());
  EXPECT_NE(quote.status().message().find("line 2"), std::string::npos)
      << quote.status().to_string();
  auto open = parse_csv("a,b\n1,\"never closed\n");
  ASSERT_FALSE(open.is_ok());
  EXPECT_NE(open.status().message().find("unterminated"), std::string::npos);
  auto wide = parse_csv("a,b\n1,2,3\n");
  ASSERT_FALSE(wide.is_ok());
  EXPECT_NE(wide.status().message().find("row 1 has 3 fields, the header has 2"),
            std::string::npos);
  EXPECT_FALSE(parse_csv("").is_ok());
  EXPECT_FALSE(parse_csv("a,b\n").is_ok());  // no data rows
  EXPECT_FALSE(parse_csv(",,\n1,2,3\n").is_ok());
  EXPECT_FALSE(parse_csv("a,b\n\xff,1\n").is_ok());
}

TEST(FormatDetection, ExtensionTypeAndMagicBytes) {
  std::string pdf = data_file("two_pages.pdf");
  std::string docx = data_file("report.docx");
  EXPECT_EQ(*detect_format("a.pdf", "", pdf), Format::kPdf);
  EXPECT_EQ(*detect_format("", "application/pdf", pdf), Format::kPdf);
  EXPECT_EQ(*detect_format("upload.bin", "application/octet-stream", pdf), Format::kPdf);
  EXPECT_EQ(*detect_format("", "", docx), Format::kDocx);
  EXPECT_EQ(*detect_format("r.DOCX", "", docx), Format::kDocx);
  EXPECT_EQ(*detect_format("t.csv", "", "a,b\n1,2\n"), Format::kCsv);
  EXPECT_EQ(*detect_format("", "text/csv; charset=utf-8", "a,b\n1,2\n"), Format::kCsv);
  EXPECT_EQ(*detect_format("", "", "plain words"), Format::kText);
  auto fake = detect_format("scan.pdf", "", "\x7f" "ELF binary garbage");
  ASSERT_FALSE(fake.is_ok());
  EXPECT_NE(fake.status().message().find("scan.pdf is not a PDF"), std::string::npos);
  EXPECT_FALSE(detect_format("r.docx", "", "not a zip").is_ok());
  EXPECT_FALSE(detect_format("x.exe", "", "MZ").is_ok());
  EXPECT_EQ(*format_from_name("md"), Format::kMarkdown);
  EXPECT_FALSE(format_from_name("pptx").is_ok());
}

// Damaged copies of the fixtures (seeded byte flips and truncations) parse or fail with
// kInvalidArgument; none may crash or report another kind of error.
TEST(DocumentParsers, DamagedFilesFailCleanly) {
  std::mt19937 rng(1234);
  for (const auto& [name, format] : std::vector<std::pair<std::string, Format>>{
           {"two_pages.pdf", Format::kPdf}, {"report.docx", Format::kDocx}}) {
    const std::string original = data_file(name);
    for (int i = 0; i < 150; ++i) {
      std::string bytes = original;
      if (i % 3 == 0) {
        bytes.resize(rng() % bytes.size());
      } else {
        for (int k = 0; k < 1 + i % 8; ++k) bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
      auto doc = parse_document(bytes, format);
      if (!doc.is_ok()) {
        EXPECT_EQ(doc.status().code(), ErrorCode::kInvalidArgument)
            << name << " #" << i << ": " << doc.status().to_string();
      }
    }
  }
}

class FormatIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = open_sqlite_store(dir_.path() + "/data");
    ASSERT_TRUE(s.is_ok()) << s.status().to_string();
    store_ = std::move(s).value();
    ASSERT_TRUE(store_->create_collection("kb", Json::object(), 0).is_ok());
    IngestOptions o;
    o.chunker.max_tokens = 24;
    o.chunker.overlap_tokens = 0;
    ingestor_ = std::make_unique<Ingestor>(*store_, nullptr, o);
  }
  Result<PutResult> ingest(const std::string& id, const std::string& content, Format f) {
    IngestRequest req;
    req.collection = "kb";
    req.document_id = id;
    req.content = content;
    req.format = f;
    return ingestor_->ingest(req);
  }
  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Ingestor> ingestor_;
};

TEST_F(FormatIngestTest, PdfChunksKeepPageNumbers) {
  ASSERT_TRUE(ingest("manual.pdf", data_file("two_pages.pdf"), Format::kPdf).is_ok());
  auto chunks = store_->get_chunks("kb", "manual.pdf");
  ASSERT_TRUE(chunks.is_ok());
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[0].page, 1);
  EXPECT_NE((*chunks)[0].text.find("Installing"), std::string::npos);
  EXPECT_EQ((*chunks)[1].page, 2);
  EXPECT_NE((*chunks)[1].text.find("BM25"), std::string::npos);
  TextQuery q;
  q.text = "BM25";
  auto hits = store_->text_search("kb", q);
  ASSERT_TRUE(hits.is_ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].page, 2);
  auto doc = store_->get_document("kb", "manual.pdf");
  EXPECT_EQ(doc->title, "Deepkb Manual");
}

TEST_F(FormatIngestTest, DocxChunksKeepHeadingPaths) {
  ASSERT_TRUE(ingest("report.docx", data_file("report.docx"), Format::kDocx).is_ok());
  auto chunks = store_->get_chunks("kb", "report.docx");
  ASSERT_TRUE(chunks.is_ok());
  bool europe = false, costs = false;
  for (const Chunk& c : *chunks) {
    if (c.text.find("Region | Q1 | Q2") != std::string::npos) {
      EXPECT_EQ(c.heading_path, (std::vector<std::string>{"Revenue", "Europe"}));
      europe = true;
    }
    if (c.text.find("Costs stayed flat") != std::string::npos) {
      EXPECT_EQ(c.heading_path, (std::vector<std::string>{"Costs"}));
      costs = true;
    }
  }
  EXPECT_TRUE(europe && costs);
}

TEST_F(FormatIngestTest, CsvRowsAreGroupedByTheTokenBudget) {
  std::string csv = "id,product,price\n";
  for (int i = 1; i <= 20; ++i) {
    csv += std::to_string(i) + ",widget " + std::to_string(i) + "," + std::to_string(i * 3) + "\n";
  }
  ASSERT_TRUE(ingest("prices.csv", csv, Format::kCsv).is_ok());
  auto chunks = store_->get_chunks("kb", "prices.csv");
  ASSERT_TRUE(chunks.is_ok());
  ASSERT_GT(chunks->size(), 1u);
  ASSERT_LT(chunks->size(), 20u);  // several rows per chunk
  int64_t next = 1;
  for (const Chunk& c : *chunks) {
    EXPECT_EQ(c.metadata["row_start"], next) << c.text;
    next = c.metadata["row_end"].get<int64_t>() + 1;
    EXPECT_EQ(c.metadata["csv.rows"], 20);
  }
  EXPECT_EQ(next, 21);
  TextQuery q;
  q.text = "widget";
  q.where = Json{{"row_start", {{"$lte", 1}}}};
  auto hits = store_->text_search("kb", q);
  ASSERT_TRUE(hits.is_ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NE((*hits)[0].text.find("product: widget 1\n"), std::string::npos);
}

TEST_F(FormatIngestTest, UnparseableFilesLeaveTheStoreUnchanged) {
  ASSERT_TRUE(ingest("ok.csv", "a,b\n1,2\n", Format::kCsv).is_ok());
  auto before = store_->count_chunks("kb");
  EXPECT_EQ(ingest("bad.pdf", "not a pdf at all", Format::kPdf).status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ingest("locked.pdf", data_file("encrypted.pdf"), Format::kPdf).is_ok());
  EXPECT_FALSE(ingest("zip.docx", data_file("not_docx.zip"), Format::kDocx).is_ok());
  EXPECT_FALSE(ingest("ok.csv", "a,b\n1,\"2\n", Format::kCsv).is_ok());
  EXPECT_EQ(*store_->count_chunks("kb"), *before);
  auto docs = store_->list_documents("kb");
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ(store_->get_chunks("kb", "ok.csv")->at(0).text, "a: 1\nb: 2");
}

}  // namespace
}  // namespace dkb::kb
