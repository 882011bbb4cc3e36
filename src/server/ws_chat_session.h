// The /v1/ws protocol: OpenAI-style chat completions over one WebSocket, several at once.
//
// Upgrade: GET /v1/ws with the same API key as HTTP (Authorization: Bearer KEY or
// x-api-key: KEY); a missing/wrong key is answered 401, a server still loading 503, both
// with OpenAI's JSON error body and no upgrade.
//
// Every message is one JSON object in a text frame.
// Client → server:
//   {"type": "chat", "id": "c1", "model": ..., "messages": [...], "temperature": ...,
//    "max_tokens": ..., ...}
//       A chat request: the body of POST /v1/chat/completions plus a client-chosen id
//       (string, 1–256 bytes, unique among this socket's requests in flight). "type" may be
//       omitted. Always streamed; "stream"/"stream_options" are ignored; "n" must be 1;
//       "logprobs" and "knowledge_base" are refused (use HTTP for those).
//   {"type": "cancel", "id": "c1"}
//       Cancels that request within one scheduler step; it then ends with a "done" message
//       whose finish_reason is "cancelled".
// Server → client:
//   {"type": "delta", "id": "c1", "delta": {"reasoning_content": "...", "content": "..."}}
//       Text as it is generated (either field may be absent). DeepSeek-R1's <think>…</think>
//       goes to reasoning_content. Never half a UTF-8 character: the deltas of a request
//       concatenate to exactly the text of the same request made without streaming.
//   {"type": "done", "id": "c1", "model": "...", "finish_reason": "stop"|"length"|"cancelled",
//    "usage": {prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details,
//              prompt_cache_hit_tokens, prompt_cache_miss_tokens}}
//       The last message of a request.
//   {"type": "error", "id": "c1"|null, "status": 400, "error": {"message", "type", "param", "code"}}
//       A request that could not start or failed (the HTTP status it would have had, and
//       OpenAI's error object). The socket stays open.
// Close codes: a message that is not JSON gets an error message then close 1007; invalid
// UTF-8 in a text frame closes with 1007 and binary frames with 1003 (both by the
// transport); a message over the body limit closes with 1009; the server stopping closes
// with 1001. Closing the socket cancels every request still in flight on it.
//
// Thread-safety: a session lives on its connection's thread; scheduler events are posted
// to that thread, so the session's state needs no lock.
#pragma once

#include <optional>

#include <memory>

#include "auth/permissions.h"
#include "server/app.h"
#include "server/http.h"

namespace dkb::server {

constexpr size_t kMaxWsRequestsInFlight = 16;  // per socket

// `who`: the principal authenticated at the upgrade (null without auth); every chat request
// on the socket is authorized (model.chat) and rate-limited as that principal.
std::unique_ptr<http::WsSession> make_ws_chat_session(App& app, std::shared_ptr<http::WsConnection> conn,
                                                     std::optional<auth::Principal> who);

}  // namespace dkb::server
