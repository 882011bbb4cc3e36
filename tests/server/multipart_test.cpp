// multipart/form-data parsing (server/multipart.h): well-formed bodies and malformed ones.
#include <gtest/gtest.h>

#include "multipart.h"

namespace dkb::server {
namespace {

constexpr const char* kType = "multipart/form-data; boundary=\"b0\"";

TEST(Multipart, FilesFieldsAndQuotedNames) {
  std::string body =
      "preamble\r\n--b0\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\".pdf\"\r\n"
      "Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\nbinary\r\n--b0\r\n"
      "content-disposition: form-data; name=metadata\r\n\r\n{\"k\":1}\r\n--b0\r\n"
      "Content-Disposition: form-data; name=\"empty\"\r\n\r\n\r\n--b0--\r\nepilogue";
  auto parts = parse_multipart(kType, body);
  ASSERT_TRUE(parts.is_ok()) << parts.status().to_string();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "a \"q\".pdf");
  EXPECT_EQ((*parts)[0].content_type, "application/pdf");
  EXPECT_EQ((*parts)[0].body, "%PDF-1.4\r\nbinary");
  EXPECT_EQ((*parts)[1].name, "metadata");
  EXPECT_EQ((*parts)[1].body, "{\"k\":1}");
  EXPECT_EQ((*parts)[2].body, "");
}

TEST(Multipart, MalformedBodiesAreRejected) {
  auto err = [](std::string_view type, std::string_view body) {
    auto r = parse_multipart(type, body);
    return r.is_ok() ? std::string("ok") : r.status().message();
  };
  EXPECT_NE(err("application/json", "{}").find("multipart/form-data"), std::string::npos);
  EXPECT_NE(err("multipart/form-data", "x").find("boundary"), std::string::npos);
  EXPECT_NE(err(kType, "no delimiter at all").find("does not start"), std::string::npos);
  EXPECT_NE(err(kType, "--b0\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nbody").find("closing"),
            std::string::npos);
  EXPECT_NE(err(kType, "--b0\r\nX-Other: 1\r\n\r\nbody\r\n--b0--").find("Content-Disposition"),
            std::string::npos);
  EXPECT_NE(err(kType, "--b0\r\nContent-Disposition: form-data; name=\"a\"\r\nbody\r\n--b0--").find("blank line"),
            std::string::npos);
  EXPECT_NE(err(kType, "--b0garbage").find("CRLF"), std::string::npos);
  std::string many;
  for (size_t i = 0; i <= kMaxMultipartParts; ++i) many += "--b0\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n";
  EXPECT_NE(err(kType, many + "--b0--").find("more than"), std::string::npos);
}

}  // namespace
}  // namespace dkb::server
