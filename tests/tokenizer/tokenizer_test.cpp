// stories260K prompt, streaming decoder, malformed vocabulary metadata, robustness.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "base/utf8.h"
#include "gguf/gguf.h"
#include "support/fixtures.h"
#include "tokenizer/tokenizer.h"

namespace dkb::tokenizer {
namespace {

std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& rel) {
  auto file = gguf::File::open(test::fixture_path(rel));
  EXPECT_TRUE(file.is_ok()) << file.status().to_string();
  if (!file.is_ok()) return nullptr;
  auto tok = Tokenizer::from_gguf(*file);
  EXPECT_TRUE(tok.is_ok()) << tok.status().to_string();
  if (!tok.is_ok()) return nullptr;
  return std::move(tok).value();
}

TEST(Stories260K, PromptWithBos) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  auto tok = load_gguf_tokenizer("models/stories260K.gguf");
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->model_name(), "llama");
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_TRUE(tok->add_bos());
  EXPECT_EQ(tok->bos(), 1);
  EXPECT_TRUE(tok->is_eog(tok->eos()));
  const auto ids = tok->encode("Once upon a time", EncodeOptions{});
  EXPECT_EQ(ids, (std::vector<TokenId>{1, 403, 407, 261, 378}));
  // llama_detokenize strips SPM's leading space only when the first token is not BOS.
  EXPECT_EQ(tok->decode(ids), " Once upon a time");
  EXPECT_EQ(tok->detokenize(ids, true, false), " Once upon a time");
  EXPECT_EQ(tok->decode(std::vector<TokenId>(ids.begin() + 1, ids.end())), "Once upon a time");
  EXPECT_EQ(tok->decode(ids, true), "<s> Once upon a time");
  EXPECT_EQ(tok->token_to_piece(1, false), "");
  EXPECT_EQ(tok->token_to_piece(1, true), "<s>");
}

TEST(Stories260K, ByteFallbackAndInvalidUtf8) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  auto tok = load_gguf_tokenizer("models/stories260K.gguf");
  ASSERT_TRUE(tok);
  // CJK is not in this vocabulary: byte fallback, and decoding gives the bytes back.
  const std::string cjk = "\xE4\xBD\xA0\xE5\xA5\xBD";  // 你好
  const auto ids = tok->encode(cjk, EncodeOptions{false, false});
  EXPECT_EQ(tok->decode(ids), cjk);
  for (TokenId id : ids) EXPECT_GE(id, 0);
  // Arbitrary bytes never crash, for every vocabulary type.
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string s(static_cast<size_t>(rng() % 24), '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    (void)tok->encode(s, EncodeOptions{true, true});
  }
}

TEST(StreamingDecoder, CjkSplitAcrossByteTokens) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  auto tok = load_gguf_tokenizer("models/stories260K.gguf");
  ASSERT_TRUE(tok);
  const std::string text = "a \xE4\xBD\xA0\xE5\xA5\xBD b";  // "a 你好 b"
  const auto ids = tok->encode(text, EncodeOptions{false, false});
  ASSERT_GT(ids.size(), 6u);  // the CJK characters come as single byte tokens
  StreamingDecoder dec(*tok);
  std::string all;
  for (TokenId id : ids) {
    const std::string part = dec.push(id);
    EXPECT_TRUE(utf8::is_valid(part)) << "emitted half a character";
    all += part;
  }
  all += dec.flush();
  EXPECT_EQ(all, " " + text);  // streaming keeps SPM's leading space piece
}

TEST(StreamingDecoder, InvalidBytesBecomeReplacementCharacters) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  auto tok = load_gguf_tokenizer("models/stories260K.gguf");
  ASSERT_TRUE(tok);
  auto byte_token = [&](uint8_t b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    const TokenId id = tok->find_token(buf);
    EXPECT_GE(id, 0) << buf;
    return id;
  };
  StreamingDecoder dec(*tok);
  EXPECT_EQ(dec.push(byte_token(0xE4)), "");  // held back: could be the start of a character
  EXPECT_EQ(dec.push(byte_token(0xBD)), "");
  // A lone continuation byte after the incomplete sequence: both are invalid now.
  const std::string out = dec.push(byte_token(0x41));
  EXPECT_TRUE(utf8::is_valid(out));
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(out.back(), 'A');
  EXPECT_EQ(dec.push(byte_token(0xF0)), "");
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(dec.flush(), "");
  EXPECT_EQ(dec.push(byte_token(0x80)), "\xEF\xBF\xBD");
  EXPECT_EQ(dec.push(-5), "");  // out-of-range ids render as nothing
}

// ---- malformed vocabulary metadata ----

struct TmpGguf {
  std::string path;
  explicit TmpGguf(const gguf::Writer& w, const std::string& name)
      : path(::testing::TempDir() + "/" + name) {
    EXPECT_TRUE(w.write(path).is_ok());
  }
  ~TmpGguf() { std::remove(path.c_str()); }
};

gguf::Writer base_writer(const std::string& model, std::vector<std::string> tokens) {
  gguf::Writer w;
  w.set_string("general.architecture", "llama");
  w.set_string("tokenizer.ggml.model", model);
  w.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(std::move(tokens)));
  return w;
}

Status load_status(const gguf::Writer& w, const std::string& name) {
  TmpGguf tmp(w, name);
  auto file = gguf::File::open(tmp.path);
  if (!file.is_ok()) return file.status();
  auto tok = Tokenizer::from_gguf(*file);
  return tok.is_ok() ? Status::ok() : tok.status();
}

TEST(MalformedVocab, MissingTokens) {
  gguf::Writer w;
  w.set_string("tokenizer.ggml.model", "llama");
  const Status s = load_status(w, "missing_tokens.gguf");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("tokenizer.ggml.tokens"), std::string::npos) << s.to_string();
}

TEST(MalformedVocab, MissingModel) {
  gguf::Writer w;
  w.set("tokenizer.ggml.tokens", gguf::Value::make_string_array({"a"}));
  const Status s = load_status(w, "missing_model.gguf");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("tokenizer.ggml.model"), std::string::npos) << s.to_string();
}

TEST(MalformedVocab, ScoresOfWrongLength) {
  gguf::Writer w = base_writer("llama", {"<unk>", "<s>", "</s>", "a"});
  std::vector<gguf::Value> scores;
  for (int i = 0; i < 3; ++i) scores.push_back(gguf::Value::make_float(gguf::ValueType::kFloat32, 0.0));
  w.set("tokenizer.ggml.scores", gguf::Value::make_array(gguf::ValueType::kFloat32, scores));
  const Status s = load_status(w, "bad_scores.gguf");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), ErrorCode::kCorruption);
  EXPECT_NE(s.message().find("tokenizer.ggml.scores: 3 entries for 4 tokens"), std::string::npos)
      << s.to_string();
}

TEST(MalformedVocab, TokenTypesOfWrongLength) {
  gguf::Writer w = base_writer("llama", {"<unk>", "<s>", "</s>", "a"});
  w.set("tokenizer.ggml.token_type",
        gguf::Value::make_array(gguf::ValueType::kInt32,
                                {gguf::Value::make_int(gguf::ValueType::kInt32, 1)}));
  const Status s = load_status(w, "bad_types.gguf");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("tokenizer.ggml.token_type"), std::string::npos) << s.to_string();
}

TEST(MalformedVocab, MergesNamingUnknownTokens) {
  gguf::Writer w = base_writer("gpt2", {"a", "b", "ab"});
  w.set_string("tokenizer.ggml.pre", "qwen2");
  w.set("tokenizer.ggml.merges", gguf::Value::make_string_array({"a b", "ab zz"}));
  const Status s = load_status(w, "bad_merges.gguf");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("tokenizer.ggml.merges[1]: 'ab zz' names unknown token 'zz'"),
            std::string::npos)
      << s.to_string();
}

TEST(MalformedVocab, MissingMergesAndUnknownPre) {
  gguf::Writer w = base_writer("gpt2", {"a", "b"});
  const Status s = load_status(w, "no_merges.gguf");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("tokenizer.ggml.merges"), std::string::npos) << s.to_string();
  gguf::Writer w2 = base_writer("gpt2", {"a", "b"});
  w2.set_string("tokenizer.ggml.pre", "no-such-pre");
  w2.set("tokenizer.ggml.merges", gguf::Value::make_string_array({"a b"}));
  const Status s2 = load_status(w2, "bad_pre.gguf");
  ASSERT_FALSE(s2.is_ok());
  EXPECT_NE(s2.message().find("no-such-pre"), std::string::npos) << s2.to_string();
}

TEST(MalformedVocab, UnknownModelAndDuplicates) {
  const Status s = load_status(base_writer("t9000", {"a"}), "bad_model.gguf");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("t9000"), std::string::npos);
  const Status s2 = load_status(base_writer("llama", {"a", "b", "a"}), "dup.gguf");
  ASSERT_FALSE(s2.is_ok());
  EXPECT_NE(s2.message().find("duplicate"), std::string::npos) << s2.to_string();
}

TEST(MalformedVocab, TinyValidVocabWithoutScoresWorks) {
  gguf::Writer w = base_writer("gpt2", {"a", "b", "ab", "<|endoftext|>"});
  w.set_string("tokenizer.ggml.pre", "qwen2");
  w.set("tokenizer.ggml.merges", gguf::Value::make_string_array({"a b"}));
  w.set_u32("tokenizer.ggml.eos_token_id", 3);
  w.set_u32("tokenizer.ggml.bos_token_id", 99);  // out of range: ignored, as llama.cpp does
  TmpGguf tmp(w, "tiny_ok.gguf");
  auto file = gguf::File::open(tmp.path);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  auto tok = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  EXPECT_EQ((*tok)->encode("abab", EncodeOptions{true, false}), (std::vector<TokenId>{2, 2}));
  EXPECT_TRUE((*tok)->is_eog(3));
  EXPECT_EQ((*tok)->encode("a<|endoftext|>", EncodeOptions{false, true}),
            (std::vector<TokenId>{0, 3}));
  // Characters missing from the vocabulary are dropped, never a crash.
  EXPECT_EQ((*tok)->encode("xyz\xFF", EncodeOptions{false, false}), std::vector<TokenId>{});
}

}  // namespace
}  // namespace dkb::tokenizer
