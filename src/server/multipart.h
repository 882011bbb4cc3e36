// multipart/form-data request bodies (RFC 7578), for file uploads to /v1/kb/{kb}/documents.
//
// parse_multipart() splits a body into parts given the request's Content-Type (which must
// carry a boundary). Each part's headers are parsed for Content-Disposition (name,
// filename — quoted or token, backslash escapes honoured; filename* is not supported) and
// Content-Type. Part bodies are views into `body`, which must outlive the result.
// Errors (kInvalidArgument, naming the problem): not multipart, no/overlong boundary, missing
// opening or closing delimiter, a part without a blank line after its headers or without
// Content-Disposition: form-data, more than kMaxParts parts.
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dkb::server {

struct MultipartPart {
  std::string name;          // form field name
  std::string filename;      // empty for plain fields
  std::string content_type;  // empty when the part has none
  std::string_view body;
};

inline constexpr size_t kMaxMultipartParts = 1000;

Result<std::vector<MultipartPart>> parse_multipart(std::string_view content_type,
                                                   std::string_view body);

}  // namespace dkb::server
