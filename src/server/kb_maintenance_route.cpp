// POST /v1/kb/{kb}/verify and POST /v1/kb/{kb}/repair (deepkb kb verify|repair).
//
// verify: SQLite integrity (PRAGMA integrity_check), full-text index consistency, chunk ↔
// vector agreement (Store::verify) and the collection's vector indexes — saved files'
// checksums, headers and staleness, loaded indexes against SQLite (IndexManager::verify).
// repair: Store::repair, then rebuilds every broken or stale index from SQLite and saves it,
// gives free pages back (Store::compact), and verifies again.
// Answer: {"kb", "clean", "problems": [...], "notes": [...], "repaired": [...]}; "clean" is
// true when no problems remain. 404 for an unknown collection.
#include "route_util.h"
#include "routes.h"

namespace dkb::server {

void handle_kb_maintenance(App& app, const std::string& kb_name, bool repair,
                           http::Responder& resp) {
  kb::Store* store = app.kb_store();
  auto coll = store->get_collection(kb_name);
  if (!coll.is_ok()) return resp.respond(error_response(coll.status()));
  json repaired = json::array();
  if (repair) {
    auto done = store->repair();
    if (!done.is_ok()) return resp.respond(error_response(done.status()));
    for (const auto& d : *done) repaired.push_back(d);
    auto fixed = app.kb_indexes()->verify(*coll, /*repair=*/true);
    if (!fixed.is_ok()) return resp.respond(error_response(fixed.status()));
    for (const auto& d : fixed->repaired) repaired.push_back(d);
    if (Status s = store->compact(); !s.is_ok()) return resp.respond(error_response(s));
    repaired.push_back("gave free pages back to the file system");
  }
  auto report = store->verify();
  if (!report.is_ok()) return resp.respond(error_response(report.status()));
  auto index = app.kb_indexes()->verify(*coll, /*repair=*/false);
  if (!index.is_ok()) return resp.respond(error_response(index.status()));
  json problems = report->problems, notes = report->notes;
  for (const auto& p : index->problems) problems.push_back(p);
  for (const auto& n : index->notes) notes.push_back(n);
  json out = {{"kb", kb_name},   {"clean", problems.empty()}, {"problems", problems},
              {"notes", notes},  {"repaired", repaired}};
  resp.respond(json_response(200, out));
}

}  // namespace dkb::server
