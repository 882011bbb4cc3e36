#include "auth/jwt.h"

#include <nlohmann/json.hpp>

#include "auth/crypto.h"

namespace dkb::auth {

using nlohmann::json;

namespace {

Status bad(const std::string& why) { return {ErrorCode::kUnauthenticated, "invalid token: " + why}; }

// A JSON object from one base64url part; nullopt when either layer is malformed.
std::optional<json> decode_part(std::string_view part) {
  auto raw = base64url_decode(part);
  if (!raw) return std::nullopt;
  json j = json::parse(*raw, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

bool get_int(const json& j, const char* key, int64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return false;
  *out = it->get<int64_t>();
  return true;
}

}  // namespace

JwtCodec::JwtCodec(std::string secret, std::string issuer)
    : secret_(std::move(secret)), issuer_(std::move(issuer)) {
  DKB_CHECK_MSG(secret_.size() >= kMinSecretBytes, "JWT secret too short");
}

std::string JwtCodec::sign(const JwtClaims& c) const {
  json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  json payload = {{"iss", issuer_}, {"sub", c.subject}, {"uid", c.user_id}, {"ver", c.version},
                  {"iat", c.issued_at}, {"exp", c.expires_at}, {"jti", c.id}};
  std::string input = base64url_encode(header.dump()) + "." + base64url_encode(payload.dump());
  return input + "." + base64url_encode(hmac_sha256(secret_, input));
}

Result<JwtClaims> JwtCodec::verify(std::string_view token, int64_t now_s) const {
  if (token.size() > kMaxTokenBytes) return bad("too long");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return bad("not a compact JWS (header.payload.signature)");
  }
  auto header = decode_part(token.substr(0, d1));
  if (!header) return bad("malformed header");
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get<std::string>() != "HS256") {
    return bad("algorithm must be HS256");
  }
  if (auto typ = header->find("typ"); typ != header->end() && *typ != "JWT") {
    return bad("type must be JWT");
  }
  if (header->contains("crit")) return bad("unsupported critical header");
  auto sig = base64url_decode(token.substr(d2 + 1));
  if (!sig) return bad("malformed signature");
  std::string expected = hmac_sha256(secret_, token.substr(0, d2));
  if (!constant_time_equal(*sig, expected)) return bad("signature mismatch");
  // Only a correctly signed payload is parsed further.
  auto payload = decode_part(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload) return bad("malformed payload");
  auto iss = payload->find("iss");
  if (iss == payload->end() || !iss->is_string() || iss->get<std::string>() != issuer_) {
    return bad("wrong issuer");
  }
  JwtClaims c;
  auto sub = payload->find("sub");
  if (sub == payload->end() || !sub->is_string()) return bad("missing subject");
  c.subject = sub->get<std::string>();
  if (!get_int(*payload, "exp", &c.expires_at)) return bad("missing expiry");
  if (!get_int(*payload, "uid", &c.user_id) || !get_int(*payload, "ver", &c.version)) {
    return bad("missing user claims");
  }
  get_int(*payload, "iat", &c.issued_at);
  if (auto jti = payload->find("jti"); jti != payload->end() && jti->is_string()) c.id = *jti;
  if (now_s >= c.expires_at) return Status(ErrorCode::kUnauthenticated, "the token has expired");
  int64_t nbf = 0;
  if (get_int(*payload, "nbf", &nbf) && now_s < nbf) return bad("not valid yet");
  return c;
}

bool looks_like_jwt(std::string_view token) {
  size_t dots = 0;
  for (char c : token) {
    if (c == '.') ++dots;
    else if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return dots == 2;
}

}  // namespace dkb::auth
