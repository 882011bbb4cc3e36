// Cryptographic primitives for auth, over OpenSSL: secure random bytes, SHA-256, HMAC-SHA-256,
// base64url (RFC 4648 §5, no padding), hex, and a constant-time comparison.
// Thread-safety: all functions are safe to call concurrently. Errors: random_bytes aborts
// only if the OS random source fails (DKB_CHECK: nothing sensible can continue without it);
// base64url_decode returns nullopt for malformed input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dkb::auth {

// n bytes from the OS CSPRNG (RAND_bytes).
std::string random_bytes(size_t n);
// Raw 32-byte digests.
std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string to_hex(std::string_view bytes);
std::string base64url_encode(std::string_view bytes);
// Strict: only [A-Za-z0-9_-], no padding, no stray bits in the last symbol.
std::optional<std::string> base64url_decode(std::string_view text);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace dkb::auth
