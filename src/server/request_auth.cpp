#include "request_auth.h"

namespace dkb::server {

namespace {

thread_local RequestAuth* t_current = nullptr;

// Permissions whose use is always audited (writes, deletes, permission changes).
bool audited(auth::Permission p) {
  using P = auth::Permission;
  switch (p) {
    case P::kKbWrite:
    case P::kKbDelete:
    case P::kKbManage:
    case P::kKbCreate:
    case P::kAdminUsers:
    case P::kOwnKeys:
      return true;
    default:
      return false;
  }
}

std::string resource_label(const auth::Resource& r) {
  switch (r.kind) {
    case auth::Resource::Kind::kGlobal: return "";
    case auth::Resource::Kind::kKb: return "kb:" + r.name;
    case auth::Resource::Kind::kModel: return "model:" + r.name;
    case auth::Resource::Kind::kUser: return "user:" + r.name;
  }
  return r.name;
}

}  // namespace

RequestAuthScope::RequestAuthScope(RequestAuth* a) : previous_(t_current) { t_current = a; }
RequestAuthScope::~RequestAuthScope() { t_current = previous_; }

RequestAuth* current_request_auth() { return t_current; }

Status authorize(auth::Permission p, const auth::Resource& on) {
  RequestAuth* ra = t_current;
  if (!ra) return {ErrorCode::kPermissionDenied, "no authenticated request"};
  Status s = auth::authorize(ra->principal, p, on);
  if (!s.is_ok()) {
    if (!ra->explicit_action) {
      ra->action = std::string(auth::permission_name(p));
      ra->resource = resource_label(on);
    }
    ra->audit = true;
  } else if (audited(p) && ra->action.empty()) {
    ra->action = std::string(auth::permission_name(p));
    ra->resource = resource_label(on);
    ra->audit = true;
  }
  return s;
}

bool may(auth::Permission p, const auth::Resource& on) {
  RequestAuth* ra = t_current;
  return ra && auth::authorize(ra->principal, p, on).is_ok();
}

void audit_as(const std::string& action, const std::string& resource, const std::string& detail) {
  if (RequestAuth* ra = t_current) {
    ra->action = action;
    ra->resource = resource;
    ra->detail = detail;
    ra->audit = true;
    ra->explicit_action = true;
  }
}

std::string request_credential(const http::Request& req) {
  std::string auth = req.header("authorization");
  if (auth.size() > 7) {
    std::string scheme = auth.substr(0, 7);
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme == "bearer ") {
      size_t start = auth.find_first_not_of(' ', 7);
      return start == std::string::npos ? "" : auth.substr(start);
    }
  }
  std::string key = req.header("x-api-key");
  if (key.empty()) key = req.header("x-chroma-token");
  return key;
}

}  // namespace dkb::server
