// gguf::Writer's streaming path: deferred tensors produced while writing give the same bytes
// as the in-memory path, wrong producers fail cleanly, and replace_tensor() repoints a tensor.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace dkb::gguf {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string temp_path(const char* tag) {
  return "/tmp/dkb_writer_" + std::string(tag) + "_" + std::to_string(::getpid()) + ".gguf";
}

bool exists(const std::string& p) {
  return std::ifstream(p).good();
}

std::vector<float> ramp(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * 0.5f;
  return v;
}

TEST(WriterStreaming, SameBytesAsInMemoryWriter) {
  const auto a = ramp(64 * 3), b = ramp(96);
  Writer mem(64);  // non-default alignment exercises the padding and general.alignment
  mem.set_string("general.architecture", "llama");
  ASSERT_TRUE(mem.add_tensor("a", TensorType::kF32, {64, 3}, a.data(), a.size() * 4).is_ok());
  ASSERT_TRUE(mem.add_tensor("b", TensorType::kF32, {96}, b.data(), b.size() * 4).is_ok());

  Writer st(64);
  st.set_string("general.architecture", "llama");
  ASSERT_TRUE(st.add_tensor_deferred("a", TensorType::kF32, {64, 3}).is_ok());
  ASSERT_TRUE(st.add_tensor("b", TensorType::kF32, {96}, b.data(), b.size() * 4).is_ok());
  EXPECT_EQ(st.tensor_bytes(0), a.size() * 4);
  const std::string path = temp_path("same");
  std::vector<size_t> asked;
  const Status s = st.write_streaming(path, [&](size_t i, TensorSink& sink) -> Status {
    asked.push_back(i);
    // In pieces, one row at a time, as the quantizer does.
    for (int r = 0; r < 3; ++r) {
      DKB_RETURN_IF_ERROR(sink.write(a.data() + r * 64, 64 * sizeof(float)));
    }
    return Status::ok();
  });
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  EXPECT_EQ(asked, std::vector<size_t>{0});
  EXPECT_EQ(slurp(path), mem.serialize());
  auto f = File::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->alignment(), 64u);
  std::remove(path.c_str());
}

TEST(WriterStreaming, WrongSizeOrProducerErrorLeavesNoFile) {
  Writer w;
  ASSERT_TRUE(w.add_tensor_deferred("a", TensorType::kF32, {32}).is_ok());
  const std::string path = temp_path("bad");
  const float x[31] = {};
  Status s =
      w.write_streaming(path, [&](size_t, TensorSink& sink) { return sink.write(x, sizeof x); });
  EXPECT_EQ(s.code(), ErrorCode::kInternal) << s.to_string();
  EXPECT_NE(s.message().find("124 bytes produced, 128 expected"), std::string::npos) << s.message();
  EXPECT_FALSE(exists(path));
  s = w.write_streaming(path, [](size_t, TensorSink&) { return invalid_argument("nope"); });
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tensor 'a'"), std::string::npos) << s.message();
  EXPECT_FALSE(exists(path));
  // Deferred data cannot go through the in-memory write().
  EXPECT_EQ(w.write(path).code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(exists(path));
  EXPECT_EQ(w.add_tensor_deferred("a", TensorType::kF32, {32}).code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(w.add_tensor_deferred("c", TensorType::kQ4_0, {48}).code(),
            ErrorCode::kInvalidArgument);
}

TEST(WriterStreaming, ExistingKeyKeepsItsPosition) {
  Writer w;
  w.set_u32("general.file_type", 1);
  w.set_string("general.name", "x");
  w.set_u32("general.file_type", 15);
  const std::string path = temp_path("keys");
  ASSERT_TRUE(w.write(path).is_ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.is_ok());
  ASSERT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->metadata()[0].first, "general.file_type");
  EXPECT_EQ(f->get_uint("general.file_type"), 15u);
  std::remove(path.c_str());
}

TEST(FileReplaceTensor, RepointsDataAndChecksSize) {
  const auto a = ramp(64);
  Writer w;
  ASSERT_TRUE(w.add_tensor("a", TensorType::kF32, {32, 2}, a.data(), a.size() * 4).is_ok());
  const std::string path = temp_path("replace");
  ASSERT_TRUE(w.write(path).is_ok());
  auto f = File::open(path);
  ASSERT_TRUE(f.is_ok());
  std::vector<uint8_t> q8(2 * 34, 0);
  EXPECT_EQ(f->replace_tensor("zz", TensorType::kQ8_0, q8.data(), q8.size()).code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(f->replace_tensor("a", TensorType::kQ8_0, q8.data(), 34).code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(f->replace_tensor("a", TensorType::kQ8_0, q8.data(), q8.size()).is_ok());
  const TensorInfo* t = f->find_tensor("a");
  EXPECT_EQ(t->type, TensorType::kQ8_0);
  EXPECT_EQ(t->data, q8.data());
  EXPECT_EQ(t->n_bytes, q8.size());
  std::remove(path.c_str());
}

}  // namespace
}  // namespace dkb::gguf
