#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdint>
#include <string>

#include <unistd.h>

#include "base/huge_page_buffer.h"
#include "base/mapped_file.h"

namespace dkb {
namespace {

// release_pages() is only a hint: the bytes stay readable and unchanged afterwards (re-read
// from the file), and ranges outside the mapping are ignored.
TEST(MappedFile, ReleasePagesKeepsContent) {
  const std::string path = "/tmp/dkb_mapped_" + std::to_string(::getpid());
  std::string content(3 * 4096 + 123, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
  {
    FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(content.data(), 1, content.size(), f), content.size());
    std::fclose(f);
  }
  auto m = MappedFile::open(path);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), content);
  m->release_pages(m->data() + 100, m->size() - 200);
  m->release_pages(m->data(), m->size());
  const char outside[16] = {};
  m->release_pages(outside, sizeof outside);
  m->release_pages(m->data() + m->size() - 10, 100);  // runs past the end: ignored
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), content);
  std::remove(path.c_str());
}

// A file of n bytes with a position-dependent pattern; returns its path.
std::string write_pattern_file(const std::string& tag, size_t n, std::string& content) {
  const std::string path = "/tmp/dkb_mapped_" + tag + "_" + std::to_string(::getpid());
  content.assign(n, '\0');
  for (size_t i = 0; i < n; ++i) content[i] = static_cast<char>(i * 131 + i / 4096);
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return "";
  const bool ok = std::fwrite(content.data(), 1, n, f) == n;
  std::fclose(f);
  return ok ? path : "";
}

// The huge-page copy holds exactly the file's bytes (sizes around and past 2 MiB), starts on a
// 2 MiB boundary, and moves with its bytes.
TEST(MappedFile, HugePageCopyHoldsTheFileBytes) {
  for (size_t n : {size_t{1}, size_t{4095}, (size_t{2} << 20) - 1, (size_t{2} << 20) + 17}) {
    std::string content;
    const std::string path = write_pattern_file("copy", n, content);
    ASSERT_FALSE(path.empty());
    auto m = MappedFile::open(path, MappedFile::Backing::kHugePageCopy);
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_EQ(m->backing(), MappedFile::Backing::kHugePageCopy);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m->data()) % HugePageBuffer::kPageBytes, 0u);
    ASSERT_EQ(m->size(), n);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), content);
    MappedFile moved = std::move(m).value();
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(moved.data()), moved.size()), content);
    auto mapped = MappedFile::open(path);
    ASSERT_TRUE(mapped.is_ok());
    EXPECT_EQ(mapped->backing(), MappedFile::Backing::kFileMap);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(mapped->data()), mapped->size()), content);
    std::remove(path.c_str());
  }
}

TEST(MappedFile, HugePageCopyOfEmptyAndMissingFiles) {
  std::string content;
  const std::string path = write_pattern_file("empty", 0, content);
  ASSERT_FALSE(path.empty());
  auto m = MappedFile::open(path, MappedFile::Backing::kHugePageCopy);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  EXPECT_EQ(m->size(), 0u);
  std::remove(path.c_str());
  auto missing = MappedFile::open(path, MappedFile::Backing::kHugePageCopy);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
  auto dir = MappedFile::open("/tmp", MappedFile::Backing::kHugePageCopy);
  ASSERT_FALSE(dir.is_ok());
  EXPECT_EQ(dir.status().code(), ErrorCode::kInvalidArgument);
}

// The copy is read-only once filled: a stray write faults instead of corrupting weights.
TEST(MappedFileDeathTest, HugePageCopyIsReadOnly) {
  std::string content;
  const std::string path = write_pattern_file("ro", 8192, content);
  ASSERT_FALSE(path.empty());
  auto m = MappedFile::open(path, MappedFile::Backing::kHugePageCopy);
  std::remove(path.c_str());
  ASSERT_TRUE(m.is_ok());
  auto* p = const_cast<uint8_t*>(m->data());
  EXPECT_EXIT(
      {
        p[100] = 1;
        std::_Exit(0);
      },
      testing::KilledBySignal(SIGSEGV), "");
}

TEST(HugePageBuffer, AlignedZeroedAndRoundedToWholePages) {
  auto b = HugePageBuffer::allocate(3 * 1048576 + 5);
  ASSERT_TRUE(b.is_ok()) << b.status().to_string();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b->data()) % HugePageBuffer::kPageBytes, 0u);
  EXPECT_EQ(b->size(), 2 * HugePageBuffer::kPageBytes);
  for (size_t i = 0; i < b->size(); i += 4093) ASSERT_EQ(b->data()[i], 0) << i;
  b->data()[b->size() - 1] = 7;  // writable until protect_read_only()
  HugePageBuffer moved = std::move(b).value();
  EXPECT_EQ(moved.data()[moved.size() - 1], 7);
  auto huge = HugePageBuffer::allocate(size_t{1} << 60);
  ASSERT_FALSE(huge.is_ok());
  EXPECT_EQ(huge.status().code(), ErrorCode::kIOError);
  EXPECT_NE(huge.status().message().find("cannot allocate"), std::string::npos);
}

}  // namespace
}  // namespace dkb
