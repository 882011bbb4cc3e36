// Per-request authentication state and the authorization helpers the routes call.
//
// App::handle authenticates every request once (auth_middleware in app.cpp), then registers
// a RequestAuth for the serving thread (RequestAuthScope) before dispatching. Routes and the
// knowledge-base search guard (App::search_kb) call authorize(), which checks the principal
// through auth::authorize and records the decision so App::handle can write the audit entry
// (every write, delete, permission change and denied request) after the response.
// With --no-auth the principal is auth::Principal::Kind::kOpen and everything is allowed.
// Thread-safety: the state is thread-local to the request's thread; no sharing.
#pragma once

#include <string>

#include "auth/permissions.h"
#include "base/status.h"
#include "server/http.h"

namespace dkb::server {

struct RequestAuth {
  auth::Principal principal;
  std::string remote;
  // For the audit log: the action and resource of the most significant check (a denial, else
  // the last write-class permission granted), or an explicit action set by an admin route.
  std::string action;
  std::string resource;
  bool audit = false;
  bool explicit_action = false;  // set by audit_as: later checks keep it
  std::string detail;  // extra words for the audit entry (never secrets)
};

class RequestAuthScope {
 public:
  explicit RequestAuthScope(RequestAuth* a);
  ~RequestAuthScope();
  RequestAuthScope(const RequestAuthScope&) = delete;
  RequestAuthScope& operator=(const RequestAuthScope&) = delete;

 private:
  RequestAuth* previous_;
};

// The request being served on this thread; null outside App::handle.
RequestAuth* current_request_auth();

// Checks the current principal; kPermissionDenied (or kUnauthenticated) otherwise. Outside a
// request (no RequestAuth) everything is denied: fail closed.
Status authorize(auth::Permission p, const auth::Resource& on);
// The same check without recording it: for filtering listings to what the caller may read.
bool may(auth::Permission p, const auth::Resource& on);
// Marks the request for the audit log with an explicit action ("user.add") and resource.
void audit_as(const std::string& action, const std::string& resource, const std::string& detail = "");

// The credential a request presents: "Authorization: Bearer X", else x-api-key, else
// x-chroma-token (the chromadb clients' header). Empty when none.
std::string request_credential(const http::Request& req);

// The permission and resource a request needs before its handler runs, from its method,
// path and (for model and knowledge-base names) body; route_permissions.cpp. Handlers check
// more where only they can tell (Chroma collections by id, listings).
struct Requirement {
  auth::Permission permission = auth::Permission::kAuthenticated;
  auth::Resource resource;
  // A second check, e.g. model.chat for POST /v1/kb/{kb}/ask.
  bool has_second = false;
  auth::Permission second_permission = auth::Permission::kAuthenticated;
  auth::Resource second_resource;
};

class App;
Requirement requirement_for(App& app, const http::Request& req);

}  // namespace dkb::server
