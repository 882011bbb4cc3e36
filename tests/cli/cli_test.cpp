// End-to-end: the real deepkb binary, as a user runs it.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "support/fixtures.h"
#include "support/run_cli.h"

namespace {

using Output = dkb::test::CliOutput;
Output run(const std::string& args) { return dkb::test::run_deepkb(args, dkb::test::Stderr::kDiscard); }

std::string q(const std::string& s) { return dkb::test::shell_quote(s); }

TEST(Cli, RunPrintsReferenceGreedyText) {
  for (const char* name : {"stories260K", "stories260K-F16"}) {
    std::string model_rel = std::string("models/") + name + ".gguf";
    std::string ref_rel = std::string("reference/") + name + ".json";
    DKB_REQUIRE_FIXTURE(model_rel);
    auto ref = nlohmann::json::parse(dkb::test::read_file(dkb::test::fixture_path(ref_rel)));
    for (const auto& c : ref["cases"]) {
      std::string prompt = c["prompt"].get<std::string>();
      Output o = run("run -m " + q(dkb::test::fixture_path(model_rel)) + " -p " + q(prompt) +
                     " -n 32 --temp 0");
      EXPECT_EQ(o.status, 0);
      EXPECT_EQ(o.out, c["greedy_text"].get<std::string>() + "\n") << name << ": " << prompt;
    }
  }
}

// --cache-type f16 (an f16 KV cache) still tells the reference story greedily, and bench reports
// the type it used; a cache type deepkb does not have is refused by name, before any model is
// loaded.
TEST(Cli, CacheTypeF16TellsTheReferenceStoryAndUnknownTypesAreRefused) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string model = q(dkb::test::fixture_path("models/stories260K.gguf"));
  auto ref = nlohmann::json::parse(
      dkb::test::read_file(dkb::test::fixture_path("reference/stories260K.json")));
  const auto& c = ref["cases"][0];
  Output o = run("run -m " + model + " -p " + q(c["prompt"].get<std::string>()) +
                 " -n 32 --temp 0 --cache-type f16");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, c["greedy_text"].get<std::string>() + "\n");
  // bench reports the cache type used, as llama-bench's type_k / type_v (f32 by default).
  for (auto [file, type] : {std::pair<const char*, const char*>{"tiny-qwen2-Q8_0.gguf", "f16"},
                            {"tiny-deepseek2-Q8_0.gguf", "f16"},
                            {"tiny-deepseek2-Q8_0.gguf", "f32"}}) {
    const std::string rel = std::string("models/") + file;
    const std::string want = type;
    DKB_REQUIRE_FIXTURE(rel);
    Output b =
        run("bench -m " + q(dkb::test::fixture_path(rel)) +
            " -p 8 -n 2 -r 1 --no-bandwidth -o json" + (want == "f16" ? " --cache-type f16" : ""));
    ASSERT_EQ(b.status, 0) << file;
    for (const auto& row : nlohmann::json::parse(b.out)) {
      EXPECT_EQ(row["type_k"], want) << file;
      EXPECT_EQ(row["type_v"], want) << file;
    }
  }
  for (const char* bad : {"q8_0", "F16", ""}) {
    Output b = dkb::test::run_deepkb("run -m " + model + " -p hi --cache-type " + q(bad));
    EXPECT_NE(b.status, 0) << bad;
    EXPECT_NE(b.out.find("--cache-type"), std::string::npos) << bad << ": " << b.out;
  }
}

TEST(Cli, TokenizeMatchesReferencePromptTokens) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  Output o = run("tokenize --ids -m " + q(dkb::test::fixture_path("models/stories260K.gguf")) +
                 " 'Once upon a time'");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "[1,403,407,261,378]\n");
}

TEST(Cli, LogitsPrintsJsonForEveryPosition) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  Output o = run("logits -m " + q(dkb::test::fixture_path("models/stories260K.gguf")) +
                 " --tokens 1,403,407");
  ASSERT_EQ(o.status, 0);
  auto j = nlohmann::json::parse(o.out);
  EXPECT_EQ(j["logits"].size(), 3u);
  EXPECT_EQ(j["logits"][0].size(), 512u);
}

TEST(Cli, BadInputsGiveClearErrors) {
  Output missing = run("run -m /nonexistent.gguf -p hi");
  EXPECT_NE(missing.status, 0);
  Output bad_tokens = run("logits -m " + q(dkb::test::fixture_path("models/stories260K.gguf")) +
                          " --tokens 1,x,3");
  EXPECT_NE(bad_tokens.status, 0);
  Output out_of_vocab = run("logits -m " + q(dkb::test::fixture_path("models/stories260K.gguf")) +
                            " --tokens 1,99999");
  EXPECT_NE(out_of_vocab.status, 0);
  // A text file is not a GGUF file.
  Output not_gguf = run("info " + q(dkb::test::fixture_path("README.md")));
  EXPECT_NE(not_gguf.status, 0);
}

TEST(Cli, InfoShowsArchitectureAndTypes) {
  DKB_REQUIRE_FIXTURE("models/tiny-qwen2-Q4_K_M.gguf");
  Output o = run("info " + q(dkb::test::fixture_path("models/tiny-qwen2-Q4_K_M.gguf")));
  EXPECT_EQ(o.status, 0);
  EXPECT_NE(o.out.find("arch qwen2"), std::string::npos);
  EXPECT_NE(o.out.find("q4_K"), std::string::npos);
  EXPECT_NE(o.out.find("q6_K"), std::string::npos);
}

}  // namespace

#include <filesystem>
#include <fstream>

#include "support/http_client.h"

namespace {

TEST(Cli, KbAndAskTalkToARunningServer) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  dkb::test::ServerProcess server(DKB_BINARY, {"-m", dkb::test::fixture_path("models/stories260K.gguf"),
                                               "--api-key", "k1", "--no-warmup"});
  ASSERT_TRUE(server.ready()) << server.output();
  std::string url = " --url http://127.0.0.1:" + std::to_string(server.port()) + " --api-key k1";
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "dkb_cli_kb";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "park.md") << "# Park\n\nLily and Ben played in the park.\n";
  std::ofstream(dir / "ball.txt") << "Ben had a big red ball.";
  std::ofstream(dir / "scan.pdfx") << "binary";
  EXPECT_EQ(run("kb create stories" + url).status, 0);
  Output add = run("kb add stories " + (dir / "park.md").string() + " " + (dir / "ball.txt").string() + " " +
                   (dir / "scan.pdfx").string() + url);
  EXPECT_NE(add.status, 0);  // one file failed
  EXPECT_NE(add.out.find("park.md: inserted"), std::string::npos) << add.out;
  EXPECT_NE(add.out.find("ball.txt: inserted"), std::string::npos) << add.out;
  Output list = run("kb list" + url);
  EXPECT_NE(list.out.find("stories"), std::string::npos);
  Output search = run("kb search stories 'red ball' --mode bm25" + url);
  EXPECT_EQ(search.status, 0);
  EXPECT_NE(search.out.find("ball.txt"), std::string::npos) << search.out;
  Output ask = run("ask stories 'Where did Lily play?'" + url);
  EXPECT_EQ(ask.status, 0);
  EXPECT_NE(ask.out.find("Sources:\n  [1] "), std::string::npos) << ask.out;
  EXPECT_NE(run("kb search nope x" + url).status, 0);
  EXPECT_NE(run("kb list --url http://127.0.0.1:" + std::to_string(server.port()) + " --api-key wrong").status, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace

namespace {

TEST(Cli, BenchReportsParallelDecodeAndRejectsBadFlags) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string m = q(dkb::test::fixture_path("models/stories260K.gguf"));
  Output o = run("bench -m " + m + " -p 8 -n 4 -r 1 --parallel 3 --no-bandwidth -o json");
  ASSERT_EQ(o.status, 0) << o.out;
  auto j = nlohmann::json::parse(o.out);
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["test"], "pp8");
  EXPECT_EQ(j[1]["test"], "tg4");
  EXPECT_EQ(j[2]["test"], "tg4x3");
  EXPECT_EQ(j[2]["n_parallel"], 3);
  EXPECT_GT(j[2]["avg_ts"].get<double>(), 0.0);
  EXPECT_NE(run("bench -m " + m + " -o xml").status, 0);
  EXPECT_NE(run("bench -m " + m + " -r 0").status, 0);
  EXPECT_NE(run("bench --synthetic no-such-model --out /tmp/x.gguf").status, 0);
}

// Decode's share of the bandwidth, per repetition against the probes just before and after it
// (the VM's bandwidth changes within seconds), and their mean.
TEST(Cli, BenchReportsDecodeShareOfBandwidthPerRepetition) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  const std::string m = q(dkb::test::fixture_path("models/stories260K.gguf"));
  Output o = run("bench -m " + m + " -p 0 -n 4 -r 3 -t 1 -o json");
  ASSERT_EQ(o.status, 0) << o.out;
  auto j = nlohmann::json::parse(o.out);
  ASSERT_EQ(j.size(), 1u);
  const auto& r = j[0];
  const auto ts = r["samples_ts"].get<std::vector<double>>();
  const auto probes = r["mem_read_gbs_probes"].get<std::vector<double>>();
  const auto share = r["bandwidth_efficiency_samples"].get<std::vector<double>>();
  ASSERT_EQ(ts.size(), 3u);
  ASSERT_EQ(probes.size(), 4u);
  ASSERT_EQ(share.size(), 3u);
  double mean = 0;
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_GT(probes[k], 0.0);
    EXPECT_LE(probes[k], r["mem_read_gbs"].get<double>());
    const double expect =
        r["bytes_per_token"].get<double>() * ts[k] / (std::max(probes[k], probes[k + 1]) * 1e9);
    EXPECT_NEAR(share[k], expect, 1e-9 * expect) << k;
    mean += share[k] / 3;
  }
  EXPECT_NEAR(r["bandwidth_efficiency"].get<double>(), mean, 1e-9 * mean);
}

// -d: each test runs after a filled context (llama-bench's "tg2 @ d5"); a negative depth is an
// error. An MoE model's bytes per token count only the experts a token selects.
TEST(Cli, BenchMeasuresAtDepthAndCountsSelectedExperts) {
  const std::string rel = "models/tiny-deepseek2-Q8_0.gguf";
  DKB_REQUIRE_FIXTURE(rel);
  const std::string path = dkb::test::fixture_path(rel);
  Output o = run("bench -m " + q(path) + " -p 3 -n 2 -d 5 -r 1 -t 1 -o json");
  ASSERT_EQ(o.status, 0) << o.out;
  auto j = nlohmann::json::parse(o.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["test"], "pp3 @ d5");
  EXPECT_EQ(j[1]["test"], "tg2 @ d5");
  EXPECT_EQ(j[1]["n_depth"], 5);
  EXPECT_GT(j[1]["avg_ts"].get<double>(), 0.0);
  auto f = dkb::gguf::File::open(path);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  const double n_exp = static_cast<double>(f->get_int("deepseek2.expert_count").value_or(0));
  const double used = static_cast<double>(f->get_int("deepseek2.expert_used_count").value_or(0));
  ASSERT_GT(n_exp, used);
  double want = 0;
  for (const auto& t : f->tensors()) {
    if (t.name == "token_embd.weight") {
      want += static_cast<double>(t.n_bytes) / static_cast<double>(t.n_rows());  // one row
    } else if (t.name.find("_exps.") != std::string::npos) {
      want += static_cast<double>(t.n_bytes) * used / n_exp;
    } else {
      want += static_cast<double>(t.n_bytes);
    }
  }
  EXPECT_NEAR(j[1]["bytes_per_token"].get<double>(), want, 1e-6 * want);
  EXPECT_NE(run("bench -m " + q(path) + " -d -1").status, 0);
}

TEST(Cli, ServeRejectsANegativeKvCacheSize) {
  DKB_REQUIRE_FIXTURE("models/stories260K.gguf");
  Output o = run("serve -m " + q(dkb::test::fixture_path("models/stories260K.gguf")) +
                 " --ctx-size -16 --port 0 --no-warmup --data /nonexistent/pagedkv-test");
  EXPECT_NE(o.status, 0);
  EXPECT_EQ(o.out.find("listening"), std::string::npos) << o.out;
}

}  // namespace
