// Helpers for the quantization tests: temporary files, teacher-forced logits, block identity.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "engine/context.h"
#include "engine/model.h"
#include "gguf/gguf.h"

namespace dkb::quant_test {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("dkb_quant_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Number of entries (to check nothing was left behind).
  size_t n_entries() const {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(path_),
                                             std::filesystem::directory_iterator()));
  }

 private:
  std::filesystem::path path_;
};

// Teacher-forced logits of `tokens`: [n_tokens][n_vocab].
inline std::vector<std::vector<float>> logits_of(const std::shared_ptr<const engine::Model>& m,
                                                 const std::vector<int32_t>& tokens) {
  ThreadPool pool(2);
  engine::Context ctx(m, pool, {});
  std::vector<std::vector<float>> out;
  const Status st = ctx.eval(tokens, true);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  if (!st.is_ok()) return out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const float* l = ctx.logits(static_cast<int64_t>(i));
    out.emplace_back(l, l + ctx.n_vocab());
  }
  return out;
}

// Largest |a - b| over a row relative to the row's largest |b|, worst over rows.
inline double worst_rel_diff(const std::vector<std::vector<float>>& a,
                             const std::vector<std::vector<float>>& b) {
  double worst = 0;
  for (size_t r = 0; r < std::min(a.size(), b.size()); ++r) {
    double scale = 0, diff = 0;
    for (size_t i = 0; i < b[r].size(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(b[r][i])));
      diff = std::max(diff, std::fabs(static_cast<double>(a[r][i]) - b[r][i]));
    }
    worst = std::max(worst, diff / std::max(scale, 1e-6));
  }
  return worst;
}

// Identical blocks per tensor type between same-named tensors of two files: type → {same, total}.
inline std::map<TensorType, std::pair<size_t, size_t>> identical_blocks(const gguf::File& a,
                                                                        const gguf::File& b) {
  std::map<TensorType, std::pair<size_t, size_t>> out;
  for (const auto& ta : a.tensors()) {
    const gguf::TensorInfo* tb = b.find_tensor(ta.name);
    if (!tb || tb->type != ta.type || tb->n_bytes != ta.n_bytes) continue;
    const auto traits = *tensor_type_traits(ta.type);
    const size_t n_blocks = ta.n_bytes / traits.type_size;
    auto& [same, total] = out[ta.type];
    for (size_t i = 0; i < n_blocks; ++i) {
      same += std::memcmp(ta.data + i * traits.type_size, tb->data + i * traits.type_size,
                          traits.type_size) == 0;
    }
    total += n_blocks;
  }
  return out;
}

}  // namespace dkb::quant_test
