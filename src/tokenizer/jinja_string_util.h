// Small Python-compatible string helpers shared by filters and methods.
#pragma once

#include <string>
#include <vector>

#include "jinja_value.h"

namespace dkb::tokenizer::jinja {

// str.strip/lstrip/rstrip; chars empty with `whitespace` true means Python whitespace.
std::string py_strip(const std::string& s, const std::string* chars, bool left, bool right);
// str.split / str.rsplit; sep null = split on whitespace runs.
std::vector<std::string> py_split(const std::string& s, const std::string* sep, long maxsplit,
                                  bool from_right);
std::string py_replace(const std::string& s, const std::string& from, const std::string& to,
                       long count, size_t max_bytes);
// Unicode simple case mapping (utf8proc), as Python str.lower/upper for most text.
std::string str_lower(const std::string& s);
std::string str_upper(const std::string& s);
std::string py_title(const std::string& s);
std::string py_capitalize(const std::string& s);
// The `title` filter (differs from str.title for apostrophes and digits).
std::string jinja_title(const std::string& s);
size_t count_occurrences(const std::string& s, const std::string& sub);
// Python printf-style `fmt % args` (%s %r %d %i %x %o %f %e %g with flags/width/precision).
std::string percent_format(const std::string& fmt, const std::vector<Value>& args);
// Byte offset -> code-point index.
long cp_index(const std::string& s, size_t byte_offset);

}  // namespace dkb::tokenizer::jinja
