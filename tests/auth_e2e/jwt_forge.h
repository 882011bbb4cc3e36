// Forged tokens for the authorization tests: a JWT whose payload was edited after signing,
// and one re-headed with "alg": "none" and no signature.
#pragma once

#include <string>

namespace dkb::test {

inline std::string b64url_decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
  };
  std::string out;
  int bits = 0;
  unsigned acc = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) break;
    acc = (acc << 6) | unsigned(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  return out;
}

inline std::string b64url_encode(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(k[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(k[(acc << (6 - bits)) & 63]);
  return out;
}

// The token with `from` replaced by `to` in its payload, the original signature kept.
inline std::string tamper_subject(const std::string& jwt, const std::string& from, const std::string& to) {
  size_t a = jwt.find('.'), b = jwt.rfind('.');
  std::string payload = b64url_decode(jwt.substr(a + 1, b - a - 1));
  size_t at = payload.find("\"" + from + "\"");
  if (at == std::string::npos) return "";
  payload.replace(at + 1, from.size(), to);
  return jwt.substr(0, a) + "." + b64url_encode(payload) + jwt.substr(b);
}

// The token's payload under {"alg":"none"} with an empty signature.
inline std::string alg_none(const std::string& jwt) {
  size_t a = jwt.find('.'), b = jwt.rfind('.');
  return b64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + jwt.substr(a + 1, b - a - 1) + ".";
}

}  // namespace dkb::test
