// App's guarded access to the knowledge base (app.h): searches and listings authorized for
// the current request's principal before the store is touched.
#include "base/log.h"
#include "request_auth.h"
#include "server/app.h"

namespace dkb::server {

Result<kb::SearchResponse> App::search_kb(const std::string& collection, const kb::SearchRequest& r,
                                          bool chroma) {
  DKB_RETURN_IF_ERROR(authorize(auth::Permission::kKbRead, auth::Resource::kb(collection)));
  if (!kb_store_) return failed_precondition("no knowledge base is configured (serve --data DIR)");
  kb::Searcher* s = chroma ? kb_chroma_searcher_.get() : kb_searcher_.get();
  return s->search(collection, r);
}

Result<std::vector<kb::Collection>> App::readable_collections() {
  if (!kb_store_) return failed_precondition("no knowledge base is configured (serve --data DIR)");
  DKB_ASSIGN_OR_RETURN(auto all, kb_store_->list_collections());
  std::vector<kb::Collection> out;
  for (auto& c : all) {
    if (may(auth::Permission::kKbRead, auth::Resource::kb(c.name))) out.push_back(std::move(c));
  }
  return out;
}

void App::kb_renamed(const std::string& from, const std::string& to) {
  if (!auth_) return;
  if (Status s = auth_->store().rename_resource("kb", from, to); !s.is_ok()) {
    log::error("grants of knowledge base '{}' not moved to '{}': {}", from, to, s.to_string());
  }
}

void App::kb_deleted(const std::string& name) {
  if (!auth_) return;
  if (Status s = auth_->store().drop_resource("kb", name); !s.is_ok()) {
    log::error("grants of knowledge base '{}' not dropped: {}", name, s.to_string());
  }
}

}  // namespace dkb::server
