#include <gtest/gtest.h>
#include <sqlite3.h>

#include "auth/audit_log.h"
#include "auth_test_util.h"

namespace dkb::auth {
namespace {

AuditEvent event(const std::string& actor, const std::string& action, const std::string& outcome,
                 int64_t time_ms) {
  AuditEvent e;
  e.actor = actor;
  e.actor_kind = "user";
  e.action = action;
  e.resource = "kb:a";
  e.outcome = outcome;
  e.status = outcome == "ok" ? 200 : 403;
  e.remote = "10.0.0.1";
  e.detail = "POST /v1/kb/a/documents";
  e.time_ms = time_ms;
  return e;
}

TEST(AuditTest, AppendAndQueryWithFilters) {
  test::TempDir dir;
  auto log = AuditLog::open(dir.path() + "/auth.db");
  ASSERT_TRUE(log.is_ok()) << log.status().to_string();
  ASSERT_TRUE((*log)->append(event("alice", "kb.write", "ok", 1000)).is_ok());
  ASSERT_TRUE((*log)->append(event("bob", "kb.write", "denied", 2000)).is_ok());
  ASSERT_TRUE((*log)->append(event("alice", "kb.delete", "ok", 3000)).is_ok());
  auto now = (*log)->append(event("carol", "login", "failed", 0));
  ASSERT_TRUE(now.is_ok());
  EXPECT_GT(now->time_ms, 3000);  // filled in

  auto all = (*log)->query({});
  ASSERT_TRUE(all.is_ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].actor, "carol");  // newest first
  EXPECT_GT((*all)[0].id, (*all)[1].id);

  AuditQuery q;
  q.actor = "alice";
  EXPECT_EQ((*log)->query(q)->size(), 2u);
  q = {};
  q.outcome = "denied";
  auto denied = (*log)->query(q);
  ASSERT_EQ(denied->size(), 1u);
  EXPECT_EQ((*denied)[0].actor, "bob");
  EXPECT_EQ((*denied)[0].status, 403);
  EXPECT_EQ((*denied)[0].remote, "10.0.0.1");
  EXPECT_EQ((*denied)[0].detail, "POST /v1/kb/a/documents");
  q = {};
  q.action = "kb.write";
  q.since_ms = 1500;
  EXPECT_EQ((*log)->query(q)->size(), 1u);
  q = {};
  q.until_ms = 2000;
  EXPECT_EQ((*log)->query(q)->size(), 1u);
  q = {};
  q.limit = 2;
  auto page1 = (*log)->query(q);
  ASSERT_EQ(page1->size(), 2u);
  q.before_id = page1->back().id;
  auto page2 = (*log)->query(q);
  ASSERT_EQ(page2->size(), 2u);
  EXPECT_LT(page2->front().id, page1->back().id);

  q = {};
  q.limit = 0;
  EXPECT_EQ((*log)->query(q).status().code(), ErrorCode::kInvalidArgument);
  q.limit = AuditLog::kMaxLimit + 1;
  EXPECT_EQ((*log)->query(q).status().code(), ErrorCode::kInvalidArgument);
  q = {};
  q.since_ms = -1;
  EXPECT_EQ((*log)->query(q).status().code(), ErrorCode::kInvalidArgument);
}

TEST(AuditTest, SurvivesReopeningAndRefusesEdits) {
  test::TempDir dir;
  std::string path = dir.path() + "/auth.db";
  {
    auto log = AuditLog::open(path);
    ASSERT_TRUE(log.is_ok());
    ASSERT_TRUE((*log)->append(event("alice", "kb.write", "ok", 1000)).is_ok());
  }
  auto log = AuditLog::open(path);
  ASSERT_TRUE(log.is_ok());
  auto all = (*log)->query({});
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].actor, "alice");

  // Even with direct database access the table refuses UPDATE and DELETE.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit SET actor='mallory'", nullptr, nullptr, &err), SQLITE_OK);
  ASSERT_NE(err, nullptr);
  EXPECT_NE(std::string(err).find("append-only"), std::string::npos);
  sqlite3_free(err);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_EQ((*(*log)->query({}))[0].actor, "alice");
}

TEST(AuditTest, OversizedFieldsAreClipped) {
  test::TempDir dir;
  auto log = AuditLog::open(dir.path() + "/auth.db");
  ASSERT_TRUE(log.is_ok());
  AuditEvent e = event(std::string(10000, 'a'), "request", "denied", 5);
  e.detail = std::string(100000, 'd');
  ASSERT_TRUE((*log)->append(e).is_ok());
  auto got = (*log)->query({});
  EXPECT_EQ((*got)[0].actor.size(), 512u);
  EXPECT_EQ((*got)[0].detail.size(), 2048u);
}

}  // namespace
}  // namespace dkb::auth
