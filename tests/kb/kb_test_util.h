// Helpers for kb tests: a deterministic fake embedder and temporary data directories.
#pragma once

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "kb/embedder.h"
#include "kb/text_tokenizer.h"

namespace dkb::kb::testing {

// Bag-of-tokens hashing embedder: each index-mode token adds ±1 to one of `dim` buckets, then
// the vector is L2-normalized. Texts sharing words get similar vectors — enough to test
// vector and hybrid search without a model.
class FakeEmbedder : public Embedder {
 public:
  explicit FakeEmbedder(size_t dim = 64) : dim_(dim) {}
  size_t dimension() const override { return dim_; }
  size_t max_batch() const override { return 4; }
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) override {
    ++calls;
    std::vector<std::vector<float>> out;
    for (const auto& t : texts) {
      std::vector<float> v(dim_, 0.0f);
      for (const auto& tok : tokenize_text(t, TokenizeMode::kIndex)) {
        size_t h = std::hash<std::string>{}(tok.text);
        v[h % dim_] += (h >> 40) & 1 ? 1.0f : -1.0f;
      }
      float n = 0;
      for (float x : v) n += x * x;
      if (n > 0) {
        for (float& x : v) x /= std::sqrt(n);
      }
      out.push_back(std::move(v));
    }
    return out;
  }
  int calls = 0;

 private:
  size_t dim_;
};

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = (std::filesystem::temp_directory_path() /
             ("dkb_kb_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++)))
                .string();
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace dkb::kb::testing
