// Helpers shared by the admin route files (admin_routes.cpp, key_routes.cpp).
#pragma once

#include <string>

#include "auth/auth_store.h"
#include "request_auth.h"
#include "route_util.h"

namespace dkb::server {

// 405 for a method the route does not take.
void method_not_allowed(const http::Request& req, http::Responder& resp);
// A query parameter, or "" when absent.
std::string query_param(const http::Request& req, const char* name);
// The caller's user name when it is a user or one of the user's keys; "" otherwise.
std::string caller_user();

json key_json(const auth::ApiKeyInfo& k);

// Admin API families (each answers through resp).
void handle_admin_keys(App& app, const std::vector<std::string>& parts, const http::Request& req,
                       http::Responder& resp);

}  // namespace dkb::server
