// A blocking HTTP/1.1 client (used by the CLI to talk to a running `deepkb serve`).
// Streaming responses (SSE, NDJSON) are delivered chunk by chunk to on_data.
// Errors: kUnavailable-like failures are kIOError with the address and reason.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "base/status.h"

namespace dkb::server::http {

struct ClientResponse {
  int status = 0;
  std::string body;  // empty when on_data consumed it
};

// url: "http://host:port" (no path). on_data, when given, receives the body as it arrives.
Result<ClientResponse> request(const std::string& url, const std::string& method,
                               const std::string& target, const std::string& body,
                               const std::map<std::string, std::string>& headers,
                               const std::function<void(const std::string&)>& on_data = {});

}  // namespace dkb::server::http
