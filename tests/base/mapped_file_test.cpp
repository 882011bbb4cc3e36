#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include <unistd.h>

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

}  // namespace
}  // namespace dkb
