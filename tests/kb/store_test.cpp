#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "kb/sqlite_store.h"
#include "kb_test_util.h"

namespace dkb::kb {
namespace {

using testing::TempDir;

std::unique_ptr<Store> open_store(const std::string& dir) {
  auto s = open_sqlite_store(dir);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return s.is_ok() ? std::move(s).value() : nullptr;
}

Document make_doc(const std::string& coll, const std::string& id, Json meta = Json::object()) {
  Document d;
  d.collection = coll;
  d.id = id;
  d.title = "title of " + id;
  d.metadata = std::move(meta);
  return d;
}

std::vector<Chunk> make_chunks(const std::vector<std::string>& texts) {
  std::vector<Chunk> out;
  for (const auto& t : texts) {
    Chunk c;
    c.text = t;
    out.push_back(c);
  }
  return out;
}

TEST(SqliteStore, CollectionCrud) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  auto c = store->create_collection("notes", {{"owner", "ann"}}, 0);
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(store->create_collection("notes", Json::object(), 0).status().code(),
            ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->create_collection("bad name!", Json::object(), 0).status().code(),
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(store->create_collection("other", Json::object(), 8).is_ok());
  auto list = store->list_collections();
  ASSERT_TRUE(list.is_ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "notes");
  EXPECT_EQ((*list)[0].metadata["owner"], "ann");
  EXPECT_EQ((*list)[1].dimension, 8u);
  ASSERT_TRUE(store->update_collection_metadata("notes", {{"owner", "bob"}}).is_ok());
  EXPECT_EQ(store->get_collection("notes")->metadata["owner"], "bob");
  ASSERT_TRUE(store->delete_collection("notes").is_ok());
  EXPECT_EQ(store->get_collection("notes").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->delete_collection("notes").code(), ErrorCode::kNotFound);
}

TEST(SqliteStore, PutAndDeleteDocumentsInOneTransaction) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->create_collection("c", Json::object(), 0).is_ok());
  auto with_vector = [](const std::string& id, std::vector<float> v) {
    DocumentWrite w{make_doc("c", id), make_chunks({"text " + id})};
    w.chunks[0].vector = std::move(v);
    return w;
  };
  // The second document's dimension differs from the first's (which would fix it): nothing
  // is written.
  std::vector<DocumentWrite> bad = {with_vector("a", {1, 2}), with_vector("b", {1, 2, 3})};
  auto r = store->put_documents("c", bad);
  EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("document b"), std::string::npos) << r.status().to_string();
  EXPECT_EQ(*store->count_chunks("c"), 0);
  EXPECT_EQ(store->get_collection("c")->dimension, 0u);
  std::vector<DocumentWrite> wrong_coll = {with_vector("a", {1, 2})};
  wrong_coll[0].doc.collection = "other";
  EXPECT_EQ(store->put_documents("c", wrong_coll).status().code(), ErrorCode::kInvalidArgument);

  uint64_t gen = store->generation("c");
  std::vector<DocumentWrite> good = {with_vector("a", {1, 2}), with_vector("b", {3, 4}),
                                     with_vector("d", {5, 6})};
  auto ok = store->put_documents("c", good);
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[1].outcome, PutOutcome::kInserted);
  EXPECT_EQ(store->get_collection("c")->dimension, 2u);
  EXPECT_GT(store->generation("c"), gen);
  EXPECT_EQ(store->put_documents("c", good)->at(0).outcome, PutOutcome::kUnchanged);

  std::vector<std::string> ids = {"a", "missing", "d"};
  auto removed = store->delete_documents("c", ids);
  ASSERT_TRUE(removed.is_ok()) << removed.status().to_string();
  EXPECT_EQ(*removed, 2u);
  EXPECT_EQ(*store->count_chunks("c"), 1);
  EXPECT_TRUE(store->get_document("c", "b").is_ok());
  EXPECT_EQ(store->delete_documents("nope", ids).status().code(), ErrorCode::kNotFound);
}

TEST(SqliteStore, RenameCollectionKeepsDocuments) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->create_collection("a", {{"k", 1}}, 0).is_ok());
  ASSERT_TRUE(store->create_collection("b", Json::object(), 0).is_ok());
  ASSERT_TRUE(store->put_document(make_doc("a", "d1", Json::object()), make_chunks({"x", "y"})).is_ok());
  uint64_t gen_before = store->generation("a");
  EXPECT_EQ(store->rename_collection("a", "b").code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store->rename_collection("a", "bad name").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store->rename_collection("nope", "c").code(), ErrorCode::kNotFound);
  ASSERT_TRUE(store->rename_collection("a", "c").is_ok());
  EXPECT_EQ(store->get_collection("a").status().code(), ErrorCode::kNotFound);
  auto c = store->get_collection("c");
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(c->metadata["k"], 1);
  EXPECT_EQ(*store->count_chunks("c"), 2);
  EXPECT_TRUE(store->get_document("c", "d1").is_ok());
  EXPECT_NE(store->generation("c"), gen_before);
  EXPECT_TRUE(store->rename_collection("c", "c").is_ok());
}

TEST(SqliteStore, DocumentCrudAndReopen) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store->create_collection("c", Json::object(), 0).is_ok());
    auto r = store->put_document(make_doc("c", "a", {{"lang", "en"}}), make_chunks({"one", "two"}));
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->outcome, PutOutcome::kInserted);
    EXPECT_EQ(r->added_chunk_ids.size(), 2u);
    ASSERT_TRUE(store->put_document(make_doc("c", "b"), make_chunks({"three"})).is_ok());
    EXPECT_EQ(store->put_document(make_doc("missing", "x"), make_chunks({"t"})).status().code(),
              ErrorCode::kNotFound);
  }
  auto store = open_store(dir.path());  // everything survives a reopen
  ASSERT_TRUE(store);
  auto docs = store->list_documents("c");
  ASSERT_TRUE(docs.is_ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0].id, "a");
  EXPECT_EQ((*docs)[0].n_chunks, 2);
  EXPECT_EQ((*docs)[0].metadata["lang"], "en");
  auto chunks = store->get_chunks("c", "a");
  ASSERT_TRUE(chunks.is_ok());
  ASSERT_EQ(chunks->size(), 2u);
  EXPECT_EQ((*chunks)[1].text, "two");
  EXPECT_EQ((*chunks)[1].ordinal, 1);
  EXPECT_EQ((*chunks)[1].metadata["lang"], "en");  // document metadata inherited
  auto removed = store->delete_document("c", "a");
  ASSERT_TRUE(removed.is_ok());
  EXPECT_EQ(removed->size(), 2u);
  EXPECT_EQ(store->get_document("c", "a").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->delete_document("c", "a").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(*store->count_chunks("c"), 1);
  EXPECT_TRUE(verify_sqlite_store(*store).is_ok());
}

TEST(SqliteStore, ReAddUnchangedIsNoOpAndChangedReplacesAtomically) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->create_collection("c", Json::object(), 0).is_ok());
  ASSERT_TRUE(store->put_document(make_doc("c", "d"), make_chunks({"alpha", "beta"})).is_ok());
  uint64_t gen = store->generation("c");
  auto again = store->put_document(make_doc("c", "d"), make_chunks({"alpha", "beta"}));
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->outcome, PutOutcome::kUnchanged);
  EXPECT_EQ(store->generation("c"), gen);

  auto changed = store->put_document(make_doc("c", "d"), make_chunks({"gamma"}));
  ASSERT_TRUE(changed.is_ok());
  EXPECT_EQ(changed->outcome, PutOutcome::kReplaced);
  EXPECT_EQ(changed->removed_chunk_ids.size(), 2u);
  EXPECT_GT(store->generation("c"), gen);
  auto chunks = store->get_chunks("c", "d");
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ((*chunks)[0].text, "gamma");
  TextQuery q;
  q.text = "alpha";
  EXPECT_TRUE(store->text_search("c", q)->empty());  // old chunks gone from the index too

  // A failing replacement (invalid UTF-8 in a chunk) leaves the old version intact.
  auto bad = store->put_document(make_doc("c", "d"), make_chunks({"ok", std::string("\xff\xfe")}));
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  // A failure inside the transaction (wrong dimension after the first vector) likewise.
  auto with_vec = make_chunks({"v1"});
  with_vec[0].vector = {1, 0, 0};
  ASSERT_TRUE(store->put_document(make_doc("c", "v"), with_vec).is_ok());
  auto wrong = make_chunks({"delta"});
  wrong[0].vector = {1, 0};
  EXPECT_EQ(store->put_document(make_doc("c", "d"), wrong).status().code(),
            ErrorCode::kInvalidArgument);
  chunks = store->get_chunks("c", "d");
  ASSERT_EQ(chunks->size(), 1u);
  EXPECT_EQ((*chunks)[0].text, "gamma");
  EXPECT_EQ(store->get_collection("c")->dimension, 3u);
}

TEST(SqliteStore, SecondOpenFailsFastWithClearError) {
  TempDir dir;
  auto first = open_store(dir.path());
  ASSERT_TRUE(first);
  auto second = open_sqlite_store(dir.path());
  ASSERT_FALSE(second.is_ok());
  EXPECT_EQ(second.status().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);

  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto other = open_sqlite_store(dir.path());
    _exit(!other.is_ok() && other.status().code() == ErrorCode::kFailedPrecondition ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child could open a locked store";

  first.reset();  // releasing the lock lets the next opener in
  EXPECT_TRUE(open_sqlite_store(dir.path()).is_ok());
}

TEST(SqliteStore, RejectsForeignDatabase) {
  TempDir dir;
  {
    std::FILE* f = std::fopen((dir.path() + "/kb.db").c_str(), "wb");
    ASSERT_TRUE(f);
    std::fputs("this is not a sqlite database, just some text that is long enough....", f);
    std::fclose(f);
  }
  auto s = open_sqlite_store(dir.path());
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kCorruption) << s.status().to_string();
}

TEST(SqliteStore, CorruptedDatabaseIsDetected) {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store->create_collection("c", Json::object(), 0).is_ok());
    for (int d = 0; d < 20; ++d) {
      std::vector<std::string> texts(5, std::string(2000, static_cast<char>('a' + d)));
      ASSERT_TRUE(
          store->put_document(make_doc("c", "d" + std::to_string(d)), make_chunks(texts)).is_ok());
    }
  }  // closing checkpoints the WAL into kb.db
  std::string db = dir.path() + "/kb.db";
  auto size = std::filesystem::file_size(db);
  ASSERT_GT(size, 16u * 4096u);
  {
    std::FILE* f = std::fopen(db.c_str(), "r+b");
    ASSERT_TRUE(f);
    std::string garbage(4096 * 6, '\x5a');
    std::fseek(f, static_cast<long>(size / 2 / 4096 * 4096), SEEK_SET);
    std::fwrite(garbage.data(), 1, garbage.size(), f);
    std::fclose(f);
  }
  auto s = open_sqlite_store(dir.path());
  if (!s.is_ok()) {
    EXPECT_EQ(s.status().code(), ErrorCode::kCorruption) << s.status().to_string();
    return;
  }
  Status v = verify_sqlite_store(*s.value());
  EXPECT_EQ(v.code(), ErrorCode::kCorruption) << v.to_string();
}

TEST(SqliteStore, CompactionGivesSpaceBack) {
  TempDir dir;
  auto store = open_store(dir.path());
  ASSERT_TRUE(store->create_collection("c", Json::object(), 0).is_ok());
  std::string filler;
  for (int i = 0; i < 400; ++i) filler += "word" + std::to_string(i) + " ";
  for (int d = 0; d < 60; ++d) {
    std::vector<std::string> texts;
    for (int k = 0; k < 10; ++k) texts.push_back(filler + std::to_string(d * 100 + k));
    ASSERT_TRUE(
        store->put_document(make_doc("c", "doc" + std::to_string(d)), make_chunks(texts)).is_ok());
  }
  ASSERT_TRUE(store->compact().is_ok());
  auto db_size = [&] { return std::filesystem::file_size(dir.path() + "/kb.db"); };
  auto full = db_size();
  for (int d = 0; d < 60; ++d)
    ASSERT_TRUE(store->delete_document("c", "doc" + std::to_string(d)).is_ok());
  ASSERT_TRUE(store->compact().is_ok());
  auto after = db_size();
  EXPECT_LT(after * 4, full) << "full=" << full << " after=" << after;
  EXPECT_TRUE(verify_sqlite_store(*store).is_ok());
}

// kill -9 while a child process ingests and replaces documents: after reopening, every
// acknowledged write is there, and every document is exactly one complete version (never a
// mix of old and new chunks, never a partial set).
TEST(SqliteStore, KillNineKeepsEveryAcknowledgedDocument) {
  TempDir dir;
  constexpr int kChunksPerDoc = 25;
  auto chunk_text = [](int doc, int version, int k) {
    return "document " + std::to_string(doc) + " version " + std::to_string(version) + " part " +
           std::to_string(k) + " " + std::string(400, static_cast<char>('a' + k % 26));
  };
  auto put = [&](Store& s, int doc, int version) {
    std::vector<std::string> texts;
    for (int k = 0; k < kChunksPerDoc; ++k) texts.push_back(chunk_text(doc, version, k));
    return s.put_document(make_doc("c", "doc" + std::to_string(doc)), make_chunks(texts)).is_ok();
  };
  {
    auto store = open_store(dir.path());
    ASSERT_TRUE(store->create_collection("c", Json::object(), 0).is_ok());
  }
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    auto s = open_sqlite_store(dir.path());
    if (!s.is_ok()) _exit(2);
    for (int i = 0;; ++i) {
      // Step i: insert doc i (version 0), then replace doc i/2 with version i+1; ack i.
      if (!put(**s, i, 0) || !put(**s, i / 2, i + 1)) _exit(3);
      if (write(fds[1], &i, sizeof i) != sizeof i) _exit(4);
    }
  }
  close(fds[1]);
  std::set<int> acked;
  int id = 0;
  while (acked.size() < 40 && read(fds[0], &id, sizeof id) == sizeof id) acked.insert(id);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  while (read(fds[0], &id, sizeof id) == sizeof id) acked.insert(id);  // acks sent before death
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
  ASSERT_GE(acked.size(), 40u);

  std::map<int, int> min_version;  // doc → the newest acknowledged version
  for (int i : acked) {
    min_version.emplace(i, 0);
    min_version[i / 2] = std::max(min_version[i / 2], i + 1);
  }
  auto store = open_store(dir.path());
  ASSERT_TRUE(store);
  EXPECT_TRUE(verify_sqlite_store(*store).is_ok());
  auto docs = store->list_documents("c");
  ASSERT_TRUE(docs.is_ok());
  EXPECT_LE(docs->size(), acked.size() + 1);  // at most one committed but not yet acked
  for (const auto& d : *docs) {
    auto chunks = store->get_chunks("c", d.id);
    ASSERT_TRUE(chunks.is_ok());
    ASSERT_EQ(chunks->size(), static_cast<size_t>(kChunksPerDoc)) << "partial document " << d.id;
    int doc = std::stoi(d.id.substr(3));
    int version = std::stoi((*chunks)[0].text.substr((*chunks)[0].text.find("version ") + 8));
    for (int k = 0; k < kChunksPerDoc; ++k) {
      EXPECT_EQ((*chunks)[k].text, chunk_text(doc, version, k)) << "mixed versions in " << d.id;
    }
    if (auto it = min_version.find(doc); it != min_version.end()) {
      EXPECT_GE(version, it->second) << "acknowledged replacement of " << d.id << " lost";
      min_version.erase(it);
    }
  }
  EXPECT_TRUE(min_version.empty()) << min_version.size() << " acknowledged documents missing";
  TextQuery q;
  q.text = "document " + std::to_string(*acked.rbegin());
  auto hits = store->text_search("c", q);
  ASSERT_TRUE(hits.is_ok());
  EXPECT_FALSE(hits->empty());
}

}  // namespace
}  // namespace dkb::kb
