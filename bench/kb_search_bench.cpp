// kb_search_bench: knowledge-base ingestion and search benchmark (issue #6).
//
// Ingests N synthetic chunks (clustered DIM-dim unit vectors — embeddings have far lower
// intrinsic dimension than Gaussian noise — plus 40 words of text from a 5,000-word
// vocabulary) into a fresh SqliteStore, builds the collection's index through IndexManager,
// then times Q queries per path and scores recall@K against exact search:
//   raw      hnswlib's own searchKnn on the built graph (HnswVectorIndex::raw_knn)
//   index    IndexManager::search (snapshot, filter plumbing, id mapping)
//   vector   Searcher::search, vector mode (index + chunk rows from SQLite)
//   hybrid   Searcher::search, hybrid mode (BM25 + vector, RRF), vs the same with exact vectors
//   filtered Searcher vector search with where {"g": …} (10% of the chunks)
//   hfiltered Searcher hybrid search with the same where filter
// Usage: kb_search_bench [--n 100000] [--dim 768] [--queries 200] [--k 10] [--ef 128]
//                        [--recall-queries R] [--ef-sweep EF,...] [--widen-sweep W,...]
//                        [--dir DIR] [--keep] [--reuse]
// --recall-queries R scores recall on the first R queries only (the exact oracle costs
// O(n·dim) per query and path: ~0.6 s per query at 1M × 768); all queries are timed.
// --ef-sweep re-times raw/index/hybrid at each ef_search on the same graph (recall vs latency);
// --widen-sweep re-times the filtered paths at each HnswParams::max_filter_widening.
// --reuse keeps DIR and, when it already holds a store of exactly N bench chunks, skips
// ingestion (the saved index file is loaded when current) — for re-measuring at 1M.
// Prints one table and one JSON line, plus the load average at each phase. Single-threaded
// queries; the build uses all cores.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include "kb/index_manager.h"
#include "kb/searcher.h"
#include "kb/sqlite_store.h"

using namespace dkb;
using namespace dkb::kb;
using Clock = std::chrono::steady_clock;

namespace {

struct Opts {
  size_t n = 100000, dim = 768, queries = 200, k = 10, ef = HnswParams{}.ef_search,
         recall_queries = SIZE_MAX;
  std::string dir;
  std::vector<size_t> ef_sweep;
  std::vector<double> widen_sweep;
  bool keep = false, reuse = false;
};

std::vector<double> parse_list(const std::string& list) {
  std::vector<double> out;
  for (size_t pos = 0; pos < list.size();) {
    size_t comma = list.find(',', pos);
    out.push_back(std::stod(list.substr(pos, comma - pos)));
    pos = comma == std::string::npos ? list.size() : comma + 1;
  }
  return out;
}

// The 1-minute load average, so every number printed can be read against the machine's load.
std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string one, five;
  f >> one >> five;
  return one.empty() ? "?" : one + " " + five;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Stats {
  std::vector<double> ms;
  size_t found = 0, wanted = 0;
  double pct(double p) {
    std::sort(ms.begin(), ms.end());
    return ms.empty() ? 0 : ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  }
  double recall() const { return wanted ? static_cast<double>(found) / wanted : 0; }
  double mean() const {
    double s = 0;
    for (double x : ms) s += x;
    return ms.empty() ? 0 : s / ms.size();
  }
  void score(const std::set<int64_t>& truth, const std::vector<int64_t>& got) {
    for (int64_t id : got) found += truth.count(id);
    wanted += truth.size();
  }
};

void die(const Status& s, const char* what) {
  if (s.is_ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up when redirected
  Opts o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--n") o.n = std::stoul(next());
    else if (a == "--dim") o.dim = std::stoul(next());
    else if (a == "--queries") o.queries = std::stoul(next());
    else if (a == "--k") o.k = std::stoul(next());
    else if (a == "--ef") o.ef = std::stoul(next());
    else if (a == "--dir") o.dir = next();
    else if (a == "--recall-queries") o.recall_queries = std::stoul(next());
    else if (a == "--ef-sweep") for (double v : parse_list(next())) o.ef_sweep.push_back(static_cast<size_t>(v));
    else if (a == "--widen-sweep") o.widen_sweep = parse_list(next());
    else if (a == "--keep") o.keep = true;
    else if (a == "--reuse") o.keep = o.reuse = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (o.dir.empty()) o.dir = (std::filesystem::temp_directory_path() / ("kb_bench_" + std::to_string(getpid()))).string();
  o.recall_queries = std::min(o.recall_queries, o.queries);
  bool ingest = true;
  if (o.reuse && std::filesystem::exists(o.dir + "/kb.db")) {
    auto existing = open_sqlite_store(o.dir);
    die(existing.status(), "open existing store");
    auto count = (*existing)->count_chunks("bench");
    ingest = !(count.is_ok() && static_cast<size_t>(*count) == o.n);
    std::printf("reuse %s: %s\n", o.dir.c_str(),
                ingest ? "not a store of exactly N bench chunks, starting over" : "skipping ingestion");
  }
  if (ingest) std::filesystem::remove_all(o.dir);
  auto store_r = open_sqlite_store(o.dir);
  die(store_r.status(), "open store");
  Store& store = **store_r;
  if (ingest) die(store.create_collection("bench", Json::object(), static_cast<uint32_t>(o.dim)).status(), "create");
  std::printf("load average at start: %s\n", loadavg().c_str());

  // Data: clusters of unit vectors; text of vocabulary words; metadata g = i % 10.
  std::mt19937 rng(1234);
  std::normal_distribution<float> nd;
  const size_t n_clusters = std::max<size_t>(16, o.n / 200);
  std::vector<float> centers(n_clusters * o.dim);
  for (float& x : centers) x = nd(rng);
  auto make_vec = [&](std::mt19937& r, std::vector<float>& v) {
    size_t c = r() % n_clusters;
    v.resize(o.dim);
    for (size_t j = 0; j < o.dim; ++j) v[j] = centers[c * o.dim + j] + 0.6f * nd(r);
    normalize_vector(v);
  };
  auto word = [&](std::mt19937& r) { return "w" + std::to_string(r() % 5000); };

  const size_t per_doc = 10, per_batch = 100;
  auto t0 = Clock::now();
  double ingest_s = 0;
  if (ingest) {
    std::vector<DocumentWrite> batch;
    size_t chunk_no = 0;
    for (size_t d = 0; chunk_no < o.n; ++d) {
      DocumentWrite w;
      w.doc.collection = "bench";
      w.doc.id = "doc" + std::to_string(d);
      for (size_t c = 0; c < per_doc && chunk_no < o.n; ++c, ++chunk_no) {
        Chunk ch;
        for (int t = 0; t < 40; ++t) ch.text += word(rng) + " ";
        make_vec(rng, ch.vector);
        ch.metadata = {{"g", static_cast<int>(chunk_no % 10)}};
        w.chunks.push_back(std::move(ch));
      }
      batch.push_back(std::move(w));
      if (batch.size() == per_batch || chunk_no == o.n) {
        die(store.put_documents("bench", batch).status(), "put");
        batch.clear();
      }
    }
    ingest_s = ms_since(t0) / 1000;
    std::printf("ingest: %zu chunks in %.1f s = %.0f chunks/s (store only: vectors given, no embedding model); load %s\n",
                o.n, ingest_s, o.n / ingest_s, loadavg().c_str());
  } else {
    // The data generator draws the same stream either way, so queries match the stored data.
    for (size_t i = 0; i < o.n; ++i) {
      for (int t = 0; t < 40; ++t) (void)rng();
      std::vector<float> v;
      make_vec(rng, v);
    }
  }

  IndexManagerOptions io;
  io.dir = o.dir;
  io.hnsw.ef_search = o.ef;
  IndexManager indexes(store, io);
  IndexManagerOptions eo;
  eo.ann_min_vectors = SIZE_MAX;  // always exact: the oracle
  IndexManager exact_indexes(store, eo);
  auto coll = store.get_collection("bench").value();
  t0 = Clock::now();
  auto snap = indexes.snapshot(coll, Metric::kCosine);
  die(snap.status(), "build");
  double build_s = ms_since(t0) / 1000;
  auto* hnsw = dynamic_cast<HnswVectorIndex*>((*snap)->base.get());
  const bool built = indexes.stats().builds > 0;
  std::printf("index %s: %.1f s (%s, %zu vectors, file %s); load %s\n", built ? "build" : "load from file",
              build_s, hnsw ? "HNSW" : "exact", (*snap)->size(),
              indexes.index_path(coll.id, Metric::kCosine).c_str(), loadavg().c_str());
  double exact_build_s = 0;
  if (o.recall_queries > 0) {
    t0 = Clock::now();
    die(exact_indexes.snapshot(coll, Metric::kCosine).status(), "exact build");
    exact_build_s = ms_since(t0) / 1000;
  }
  if (built) {
    IndexManager reload(store, io);
    t0 = Clock::now();
    die(reload.snapshot(coll, Metric::kCosine).status(), "load");
    std::printf("index load from file: %.1f s (loads=%llu)\n", ms_since(t0) / 1000,
                static_cast<unsigned long long>(reload.stats().loads));
  }

  Searcher searcher(store, nullptr, Metric::kCosine, &indexes);
  Searcher exact_searcher(store, nullptr, Metric::kCosine, &exact_indexes);
  {
    // Paid once per store (and after repair()): the first full-text search reads the FTS5
    // document lengths and the collection's chunk ids, the first filtered search the
    // collection's metadata (sqlite_store.h, search caches).
    std::mt19937 crng(4242);
    SearchRequest sr;
    make_vec(crng, sr.vector);
    sr.text = word(crng) + " " + word(crng);
    sr.k = o.k;
    sr.mode = SearchMode::kHybrid;
    t0 = Clock::now();
    die(searcher.search("bench", sr).status(), "first hybrid search");
    double first_text_ms = ms_since(t0);
    sr.mode = SearchMode::kVector;
    sr.where = {{"g", 3}};
    t0 = Clock::now();
    die(searcher.search("bench", sr).status(), "first filtered search");
    std::printf("first hybrid search %.0f ms (reads document lengths and chunk ids), first filtered "
                "search %.0f ms (reads metadata); load %s\n",
                first_text_ms, ms_since(t0), loadavg().c_str());
  }
  // Queries and (for the first recall_queries) their exact answers first; then each path runs
  // over all queries twice (the first pass warms caches for every path alike) and the second
  // pass is timed.
  std::mt19937 qrng(777);
  struct Query {
    std::vector<float> vec;
    std::string text;
    Json where;
    std::set<int64_t> truth, htruth, ftruth, hftruth;
  };
  std::vector<Query> qs(o.queries);
  Stats raw, idx, vec, hyb, filt, hfilt, exact_t;
  auto ids_of = [](const std::vector<SearchHit>& hits) {
    std::set<int64_t> s;
    for (const auto& h : hits) s.insert(h.chunk_id);
    return s;
  };
  t0 = Clock::now();
  for (size_t qi = 0; qi < o.queries; ++qi) {
    Query& q = qs[qi];
    make_vec(qrng, q.vec);
    q.text = word(qrng) + " " + word(qrng) + " " + word(qrng);
    q.where = {{"g", static_cast<int>(qi % 10)}};
    if (qi >= o.recall_queries) continue;
    auto et = Clock::now();
    auto ex = exact_indexes.search(coll, Metric::kCosine, q.vec, o.k, nullptr).value();
    exact_t.ms.push_back(ms_since(et));
    for (const auto& h : ex) q.truth.insert(h.id);
    exact_t.found += q.truth.size();
    exact_t.wanted += q.truth.size();
    SearchRequest sr;
    sr.vector = q.vec;
    sr.k = o.k;
    sr.text = q.text;
    sr.mode = SearchMode::kHybrid;
    q.htruth = ids_of(exact_searcher.search("bench", sr).value().hits);
    sr.where = q.where;
    q.hftruth = ids_of(exact_searcher.search("bench", sr).value().hits);
    sr.mode = SearchMode::kVector;
    q.ftruth = ids_of(exact_searcher.search("bench", sr).value().hits);
  }
  std::printf("oracle: %zu queries in %.1f s (exact index built in %.1f s); load %s\n", o.recall_queries,
              ms_since(t0) / 1000, exact_build_s, loadavg().c_str());
  auto run = [&](const char* name, Stats& st, const std::set<int64_t> Query::*truth, auto&& fn) {
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t qi = 0; qi < o.queries; ++qi) {
        auto t = Clock::now();
        std::vector<int64_t> got = fn(qi);
        if (pass == 0) continue;
        st.ms.push_back(ms_since(t));
        if (qi < o.recall_queries) st.score(qs[qi].*truth, got);
      }
    }
    std::printf("  timed %-10s load %s\n", name, loadavg().c_str());
  };
  auto raw_run = [&](Stats& st) {
    run("raw", st, &Query::truth, [&](size_t qi) {
      std::vector<int64_t> got;
      for (auto& [sc, id] : hnsw->raw_knn(qs[qi].vec, o.k)) got.push_back(id);
      return got;
    });
  };
  auto index_run = [&](Stats& st) {
    run("index", st, &Query::truth, [&](size_t qi) {
      std::vector<int64_t> got;
      auto hits = indexes.search(coll, Metric::kCosine, qs[qi].vec, o.k, nullptr).value();
      for (const auto& h : hits) got.push_back(h.id);
      return got;
    });
  };
  if (hnsw) raw_run(raw);
  index_run(idx);
  auto searcher_run = [&](const char* name, Stats& st, const std::set<int64_t> Query::*truth,
                          SearchMode mode, bool filtered) {
    run(name, st, truth, [&, mode, filtered](size_t qi) {
      SearchRequest sr;
      sr.mode = mode;
      sr.vector = qs[qi].vec;
      sr.text = qs[qi].text;
      sr.k = o.k;
      if (filtered) sr.where = qs[qi].where;
      std::vector<int64_t> got;
      auto res = searcher.search("bench", sr).value();
      for (const auto& h : res.hits) got.push_back(h.chunk_id);
      return got;
    });
  };
  searcher_run("vector", vec, &Query::truth, SearchMode::kVector, false);
  searcher_run("hybrid", hyb, &Query::htruth, SearchMode::kHybrid, false);
  searcher_run("filtered", filt, &Query::ftruth, SearchMode::kVector, true);
  searcher_run("hfiltered", hfilt, &Query::hftruth, SearchMode::kHybrid, true);
  std::printf("\n%zu chunks × %zu dims, %zu queries (recall on %zu), k=%zu, ef_search=%zu\n", o.n, o.dim,
              o.queries, o.recall_queries, o.k, o.ef);
  std::printf("%-36s %9s %9s %9s %10s\n", "path", "mean ms", "p50 ms", "p99 ms", "recall@k");
  auto row = [&](const char* name, Stats& s) {
    std::printf("%-36s %9.3f %9.3f %9.3f %10.4f\n", name, s.mean(), s.pct(0.5), s.pct(0.99), s.recall());
  };
  row("exact (brute force, oracle)", exact_t);
  if (hnsw) row("raw hnswlib searchKnn", raw);
  row("IndexManager::search", idx);
  row("Searcher vector (+ chunk rows)", vec);
  row("Searcher hybrid (BM25+vector RRF)", hyb);
  row("Searcher vector, where g=x (10%)", filt);
  row("Searcher hybrid, where g=x (10%)", hfilt);
  if (hnsw) {
    std::printf("index path / raw hnswlib: %.2fx mean, %.2fx p50\n", idx.mean() / raw.mean(),
                idx.pct(0.5) / raw.pct(0.5));
  }
  std::printf(
      "{\"n\":%zu,\"dim\":%zu,\"ingest_chunks_per_s\":%.0f,\"build_s\":%.1f,\"raw_p50\":%.3f,\"raw_p99\":%.3f,"
      "\"raw_recall\":%.4f,\"index_p50\":%.3f,\"index_p99\":%.3f,\"vector_p50\":%.3f,\"vector_p99\":%.3f,"
      "\"vector_recall\":%.4f,\"hybrid_p50\":%.3f,\"hybrid_p99\":%.3f,\"hybrid_recall\":%.4f,"
      "\"filtered_p50\":%.3f,\"filtered_p99\":%.3f,\"filtered_recall\":%.4f,"
      "\"hfiltered_p50\":%.3f,\"hfiltered_p99\":%.3f,\"hfiltered_recall\":%.4f,\"load\":\"%s\"}\n",
      o.n, o.dim, ingest_s > 0 ? o.n / ingest_s : 0.0, build_s, raw.pct(0.5), raw.pct(0.99),
      raw.recall(), idx.pct(0.5), idx.pct(0.99), vec.pct(0.5), vec.pct(0.99), vec.recall(),
      hyb.pct(0.5), hyb.pct(0.99), hyb.recall(), filt.pct(0.5), filt.pct(0.99), filt.recall(),
      hfilt.pct(0.5), hfilt.pct(0.99), hfilt.recall(), loadavg().c_str());
  if (hnsw && !o.ef_sweep.empty()) {
    std::printf("\nef_search sweep (same graph and queries; recall on %zu)\n", o.recall_queries);
    std::printf("%6s %10s %10s %10s %10s %10s %10s %10s\n", "ef", "raw p50", "index p50", "index p99",
                "recall", "hybrid p50", "hybrid p99", "h.recall");
    for (size_t ef : o.ef_sweep) {
      hnsw->set_search_params(ef, io.hnsw.max_filter_widening);
      Stats r, i, h;
      raw_run(r);
      index_run(i);
      searcher_run("hybrid", h, &Query::htruth, SearchMode::kHybrid, false);
      std::printf("%6zu %10.3f %10.3f %10.3f %10.4f %10.3f %10.3f %10.4f\n", ef, r.pct(0.5), i.pct(0.5),
                  i.pct(0.99), i.recall(), h.pct(0.5), h.pct(0.99), h.recall());
    }
  }
  if (hnsw && !o.widen_sweep.empty()) {
    std::printf("\nfiltered widening sweep (ef_search %zu; recall on %zu)\n", o.ef, o.recall_queries);
    std::printf("%6s %10s %10s %10s %10s %10s %10s\n", "widen", "vec p50", "vec p99", "recall",
                "hyb p50", "hyb p99", "h.recall");
    for (double w : o.widen_sweep) {
      hnsw->set_search_params(o.ef, w);
      Stats f, h;
      searcher_run("filtered", f, &Query::ftruth, SearchMode::kVector, true);
      searcher_run("hfiltered", h, &Query::hftruth, SearchMode::kHybrid, true);
      std::printf("%6.1f %10.3f %10.3f %10.4f %10.3f %10.3f %10.4f\n", w, f.pct(0.5), f.pct(0.99),
                  f.recall(), h.pct(0.5), h.pct(0.99), h.recall());
    }
  }
  if (!o.keep) {
    std::error_code ec;
    std::filesystem::remove_all(o.dir, ec);
  }
  return 0;
}
