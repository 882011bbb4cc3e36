#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>

#include <unistd.h>

#include "gguf/gguf.h"
#include "support/fixtures.h"

namespace dkb::gguf {
namespace {

class TempFile {
 public:
  explicit TempFile(const std::string& bytes) {
    char tmpl[] = "/tmp/dkb_gguf_XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Writer sample_writer() {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set("tokenizer.ggml.tokens", Value::make_string_array({"<s>", "</s>", "a"}));
  w.set("tokenizer.ggml.scores",
        Value::make_array(ValueType::kFloat32, {Value::make_float(ValueType::kFloat32, 0.5),
                                                Value::make_float(ValueType::kFloat32, -1),
                                                Value::make_float(ValueType::kFloat32, 2)}));
  float a[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_TRUE(w.add_tensor("weight.a", TensorType::kF32, {4, 2}, a, sizeof a).is_ok());
  uint8_t q[34] = {};
  q[0] = 0x00;
  q[1] = 0x3c;  // d = 1.0 in fp16
  for (int i = 0; i < 32; ++i) q[2 + i] = static_cast<uint8_t>(i - 16);
  EXPECT_TRUE(w.add_tensor("weight.b", TensorType::kQ8_0, {32}, q, sizeof q).is_ok());
  return w;
}

TEST(Gguf, RoundTripsWriterOutput) {
  TempFile f(sample_writer().serialize());
  auto file = File::open(f.path());
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_uint("llama.block_count"), 2u);
  EXPECT_EQ(file->get_float("llama.rope.freq_base"), 10000.0);
  EXPECT_EQ(file->get_bool("tokenizer.ggml.add_bos_token"), true);
  ASSERT_NE(file->get_strings("tokenizer.ggml.tokens"), nullptr);
  EXPECT_EQ(file->get_strings("tokenizer.ggml.tokens")->at(2), "a");
  auto scores = file->get_float_array("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.has_value());
  EXPECT_EQ((*scores)[2], 2.0);
  ASSERT_EQ(file->tensors().size(), 2u);
  const TensorInfo* a = file->find_tensor("weight.a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->ne, (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(a->n_rows(), 2);
  float v[8];
  std::memcpy(v, a->data, sizeof v);
  EXPECT_EQ(v[7], 8.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a->data) % 32, 0u);
  const TensorInfo* b = file->find_tensor("weight.b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->n_bytes, 34u);
  EXPECT_EQ(static_cast<int8_t>(b->data[2]), -16);
  EXPECT_EQ(file->find("missing"), nullptr);
}

TEST(Gguf, ReadsRealModel) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  auto file = File::open(dkb::test::fixture_path("models/stories260K.gguf"));
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  EXPECT_EQ(file->get_string("general.architecture"), "llama");
  EXPECT_EQ(file->get_strings("tokenizer.ggml.tokens")->size(), 512u);
  const TensorInfo* emb = file->find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->ne[1], 512);
}

TEST(Gguf, EveryTruncationIsAnErrorNotACrash) {
  std::string bytes = sample_writer().serialize();
  // The last tensor (34 bytes of Q8_0) is followed by 30 bytes of optional alignment padding;
  // every prefix that cuts into real data must fail.
  size_t data_end = bytes.size() - 30;
  for (size_t n = 0; n < data_end; ++n) {
    TempFile f(bytes.substr(0, n));
    auto file = File::open(f.path());
    EXPECT_FALSE(file.is_ok()) << "prefix of " << n << " bytes parsed";
  }
}

TEST(Gguf, BadMagicIsNamed) {
  std::string bytes = sample_writer().serialize();
  bytes[0] = 'X';
  TempFile f(bytes);
  auto file = File::open(f.path());
  ASSERT_FALSE(file.is_ok());
  EXPECT_NE(file.status().message().find("bad magic"), std::string::npos)
      << file.status().message();
}

TEST(Gguf, AbsurdCountsAreRejected) {
  std::string bytes = sample_writer().serialize();
  uint64_t huge = 1ull << 40;
  std::string t = bytes;
  std::memcpy(&t[8], &huge, 8);  // tensor count
  TempFile f1(t);
  auto r1 = File::open(f1.path());
  ASSERT_FALSE(r1.is_ok());
  EXPECT_NE(r1.status().message().find("tensor count"), std::string::npos);
  std::string k = bytes;
  std::memcpy(&k[16], &huge, 8);  // kv count
  TempFile f2(k);
  auto r2 = File::open(f2.path());
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.status().message().find("metadata count"), std::string::npos);
}

// Finds the on-disk position of tensor `name`'s info record (right after its name).
size_t tensor_info_pos(const std::string& bytes, const std::string& name) {
  std::string needle(8, '\0');
  uint64_t len = name.size();
  std::memcpy(&needle[0], &len, 8);
  needle += name;
  size_t p = bytes.find(needle);
  EXPECT_NE(p, std::string::npos);
  return p + needle.size();
}

TEST(Gguf, TensorOutOfBoundsIsNamed) {
  std::string bytes = sample_writer().serialize();
  size_t p = tensor_info_pos(bytes, "weight.b");
  // n_dims(4) + ne(8) + type(4) then offset(8)
  uint64_t far = 1ull << 20;
  std::memcpy(&bytes[p + 4 + 8 + 4], &far, 8);
  TempFile f(bytes);
  auto file = File::open(f.path());
  ASSERT_FALSE(file.is_ok());
  EXPECT_NE(file.status().message().find("'weight.b'"), std::string::npos) << file.status().message();
  EXPECT_NE(file.status().message().find("past end of file"), std::string::npos);
}

TEST(Gguf, UnknownTypeAndOverflowingShape) {
  std::string bytes = sample_writer().serialize();
  size_t p = tensor_info_pos(bytes, "weight.b");
  std::string t = bytes;
  uint32_t bad_type = 99;
  std::memcpy(&t[p + 4 + 8], &bad_type, 4);
  TempFile f1(t);
  auto r1 = File::open(f1.path());
  ASSERT_FALSE(r1.is_ok());
  EXPECT_NE(r1.status().message().find("unknown tensor type 99"), std::string::npos);

  size_t pa = tensor_info_pos(bytes, "weight.a");
  std::string s = bytes;
  int64_t big = int64_t{1} << 62;
  std::memcpy(&s[pa + 4], &big, 8);
  std::memcpy(&s[pa + 12], &big, 8);
  TempFile f2(s);
  auto r2 = File::open(f2.path());
  ASSERT_FALSE(r2.is_ok());
  EXPECT_NE(r2.status().message().find("overflow"), std::string::npos) << r2.status().message();
}

TEST(Gguf, RandomCorruptionNeverCrashes) {
  std::string bytes = sample_writer().serialize();
  std::mt19937 rng(42);
  for (int iter = 0; iter < 300; ++iter) {
    std::string m = bytes;
    int flips = 1 + rng() % 4;
    for (int i = 0; i < flips; ++i) m[rng() % m.size()] = static_cast<char>(rng());
    TempFile f(m);
    auto file = File::open(f.path());  // must return, either way
    (void)file;
  }
}

TEST(Gguf, MissingFileIsNotFound) {
  auto file = File::open("/nonexistent/model.gguf");
  ASSERT_FALSE(file.is_ok());
  EXPECT_EQ(file.status().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace dkb::gguf
