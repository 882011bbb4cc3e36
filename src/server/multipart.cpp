// multipart/form-data parsing (see multipart.h).
#include "multipart.h"

#include <algorithm>

namespace dkb::server {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Value of `param` in a header like `form-data; name="f"; filename="a b.pdf"`; found=false
// when absent.
std::string header_param(std::string_view header, std::string_view param, bool* found) {
  *found = false;
  size_t i = header.find(';');
  while (i != std::string_view::npos && i < header.size()) {
    ++i;
    while (i < header.size() && (header[i] == ' ' || header[i] == '\t')) ++i;
    size_t eq = header.find('=', i);
    if (eq == std::string_view::npos) return {};
    std::string key = lower(trim(header.substr(i, eq - i)));
    std::string value;
    size_t j = eq + 1;
    if (j < header.size() && header[j] == '"') {
      for (++j; j < header.size() && header[j] != '"'; ++j) {
        if (header[j] == '\\' && j + 1 < header.size()) ++j;
        value += header[j];
      }
      ++j;  // closing quote
    } else {
      size_t end = header.find(';', j);
      value = std::string(trim(header.substr(j, end == std::string_view::npos ? end : end - j)));
      j = end == std::string_view::npos ? header.size() : end;
    }
    if (key == param) {
      *found = true;
      return value;
    }
    i = header.find(';', j);
  }
  return {};
}

}  // namespace

Result<std::vector<MultipartPart>> parse_multipart(std::string_view content_type,
                                                   std::string_view body) {
  if (!lower(content_type).starts_with("multipart/form-data")) {
    return invalid_argument("expected Content-Type multipart/form-data");
  }
  bool found = false;
  std::string boundary = header_param(content_type, "boundary", &found);
  if (!found || boundary.empty() || boundary.size() > 70) {
    return invalid_argument("multipart/form-data needs a boundary of 1..70 characters");
  }
  const std::string delim = "--" + boundary;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos || (pos != 0 && body.substr(pos - 2, 2) != "\r\n")) {
    return invalid_argument("multipart body does not start with its boundary");
  }
  std::vector<MultipartPart> parts;
  for (;;) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") {
      return invalid_argument("multipart boundary is not followed by CRLF");
    }
    pos += 2;
    size_t headers_end = body.find("\r\n\r\n", pos);
    size_t next = body.find("\r\n" + delim, pos);
    if (next == std::string_view::npos) {
      return invalid_argument("multipart body has no closing boundary");
    }
    MultipartPart part;
    size_t content_start;
    if (body.substr(pos, 2) == "\r\n") {  // no headers at all
      headers_end = pos;
      content_start = pos + 2;
    } else {
      if (headers_end == std::string_view::npos || headers_end > next) {
        return invalid_argument("multipart part " + std::to_string(parts.size() + 1) +
                                " has no blank line after its headers");
      }
      content_start = headers_end + 4;
    }
    bool disposition = false;
    std::string_view headers = body.substr(pos, headers_end - pos);
    while (!headers.empty()) {
      size_t eol = headers.find("\r\n");
      std::string_view line = headers.substr(0, eol);
      headers = eol == std::string_view::npos ? std::string_view() : headers.substr(eol + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string name = lower(trim(line.substr(0, colon)));
      std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        if (!lower(value).starts_with("form-data")) break;
        disposition = true;
        bool has = false;
        part.name = header_param(value, "name", &has);
        part.filename = header_param(value, "filename", &has);
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (!disposition) {
      return invalid_argument("multipart part " + std::to_string(parts.size() + 1) +
                              " has no Content-Disposition: form-data header");
    }
    part.body = content_start <= next ? body.substr(content_start, next - content_start)
                                      : std::string_view();
    parts.push_back(std::move(part));
    if (parts.size() > kMaxMultipartParts) {
      return invalid_argument("more than " + std::to_string(kMaxMultipartParts) +
                              " parts in a multipart body");
    }
    pos = next + 2;
  }
}

}  // namespace dkb::server
