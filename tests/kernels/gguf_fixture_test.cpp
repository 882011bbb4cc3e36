// Sanity check of dequantization on real llama.cpp-produced files: every quantized tensor of a
// model must dequantize close to the same tensor of the F16/BF16 export of that model.
// Uses a minimal GGUF walker local to this test (the real reader lives in gguf/).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/fixtures.h"
#include "test_util.h"

namespace dkb::kernels {
namespace {

struct TensorRef {
  TensorType type;
  int64_t n_elements;
  int64_t row_len;  // ne0
  const uint8_t* data;
};

class Cursor {
 public:
  explicit Cursor(const std::string& s) : s_(s) {}
  template <typename T>
  T get() {
    T v{};
    if (pos_ + sizeof(T) > s_.size()) throw std::runtime_error("truncated");
    std::memcpy(&v, s_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str() {
    const auto n = get<uint64_t>();
    if (pos_ + n > s_.size()) throw std::runtime_error("truncated");
    std::string r = s_.substr(pos_, n);
    pos_ += n;
    return r;
  }
  void skip_value(uint32_t type) {
    static const size_t kSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
      str();
    } else if (type == 9) {
      const auto et = get<uint32_t>();
      const auto n = get<uint64_t>();
      for (uint64_t i = 0; i < n; ++i) skip_value(et);
    } else {
      if (type >= 13) throw std::runtime_error("bad type");
      pos_ += kSizes[type];
    }
  }
  size_t pos() const { return pos_; }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

std::map<std::string, TensorRef> load(const std::string& bytes) {
  Cursor c(bytes);
  if (c.get<uint32_t>() != 0x46554747u) throw std::runtime_error("not gguf");
  c.get<uint32_t>();
  const auto n_tensors = c.get<uint64_t>();
  const auto n_kv = c.get<uint64_t>();
  uint64_t alignment = 32;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = c.str();
    const auto type = c.get<uint32_t>();
    if (key == "general.alignment" && type == 4) {
      alignment = c.get<uint32_t>();
    } else {
      c.skip_value(type);
    }
  }
  struct Info {
    std::string name;
    TensorType type;
    int64_t n;
    int64_t ne0;
    uint64_t offset;
  };
  std::vector<Info> infos;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Info info;
    info.name = c.str();
    const auto n_dims = c.get<uint32_t>();
    info.n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto ne = static_cast<int64_t>(c.get<uint64_t>());
      if (d == 0) info.ne0 = ne;
      info.n *= ne;
    }
    info.type = static_cast<TensorType>(c.get<uint32_t>());
    info.offset = c.get<uint64_t>();
    infos.push_back(info);
  }
  const size_t data_start = (c.pos() + alignment - 1) / alignment * alignment;
  std::map<std::string, TensorRef> out;
  for (const auto& info : infos) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data()) + data_start + info.offset;
    if (data_start + info.offset + tensor_row_size(info.type, info.n) > bytes.size()) {
      throw std::runtime_error("tensor out of bounds");
    }
    out[info.name] = {info.type, info.n, info.ne0, p};
  }
  return out;
}

// vec_dot of the first rows (every level this CPU has) against the dequantized dot product.
void check_rows(const std::string& name, const TensorRef& t) {
  if (t.n_elements / t.row_len < 2) return;
  const TensorType vt = vec_dot_type(t.type);
  const auto x = test::random_floats(static_cast<size_t>(t.row_len), 3);
  const auto xq = test::quantized(vt, x.data(), t.row_len);
  const auto xd = test::dequantized(vt, xq.data(), t.row_len);
  const size_t row_size = tensor_row_size(t.type, t.row_len);
  for (int64_t r = 0; r < 4 && r < t.n_elements / t.row_len; ++r) {
    const uint8_t* w = t.data + r * row_size;
    const auto wd = test::dequantized(t.type, w, t.row_len);
    double ref = 0, mag = 0;
    for (int64_t i = 0; i < t.row_len; ++i) {
      ref += static_cast<double>(wd[i]) * xd[i];
      mag += std::fabs(static_cast<double>(wd[i]) * xd[i]);
    }
    for (Isa isa : test::kAllIsas) {
      if (!isa_available(isa)) continue;
      EXPECT_NEAR(vec_dot_with(isa, t.type, t.row_len, w, xq.data()), ref, 1e-4 * mag + 1e-6)
          << name << " row " << r;
    }
  }
}

// Relative RMS error of every tensor of `quant` (by type) against `ref`; returns worst per type.
std::map<TensorType, double> compare(const std::string& quant_file, const std::string& ref_file) {
  const std::string qb = dkb::test::read_file(dkb::test::fixture_path(quant_file));
  const std::string rb = dkb::test::read_file(dkb::test::fixture_path(ref_file));
  const auto q = load(qb);
  const auto r = load(rb);
  std::map<TensorType, double> worst;
  for (const auto& [name, tq] : q) {
    const auto it = r.find(name);
    if (it == r.end() || it->second.n_elements != tq.n_elements) continue;
    if (!is_supported_weight_type(tq.type) || !is_supported_weight_type(it->second.type)) continue;
    const auto a = test::dequantized(tq.type, tq.data, tq.n_elements);
    const auto b = test::dequantized(it->second.type, it->second.data, tq.n_elements);
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
      den += static_cast<double>(b[i]) * b[i];
    }
    const double rel = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    check_rows(name, tq);
    worst[tq.type] = std::max(worst[tq.type], rel);
  }
  return worst;
}

double bound(TensorType t) {
  switch (t) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kBF16:
      return 1e-2;
    case TensorType::kQ8_0:
      return 0.01;
    case TensorType::kQ6_K:
      return 0.03;
    case TensorType::kQ5_0:
    case TensorType::kQ5_1:
    case TensorType::kQ5_K:
      return 0.055;
    case TensorType::kQ4_0:
    case TensorType::kQ4_1:
    case TensorType::kQ4_K:
      return 0.12;
    default:
      return 0.35;
  }
}

void check(const std::string& quant_file, const std::string& ref_file) {
  const auto worst = compare(quant_file, ref_file);
  EXPECT_FALSE(worst.empty());
  for (const auto& [t, rel] : worst) {
    EXPECT_LT(rel, bound(t)) << quant_file << " " << tensor_type_name(t);
    std::printf("  %s %-5s worst relative RMS error %.4f\n", quant_file.c_str(),
                std::string(tensor_type_name(t)).c_str(), rel);
  }
}

TEST(GgufFixtures, QwenQuantsDequantizeNearBf16) {
  DKB_REQUIRE_FIXTURE("models/tiny-qwen2-BF16.gguf");
  for (const char* f : {"models/tiny-qwen2-Q8_0.gguf", "models/tiny-qwen2-Q6_K.gguf",
                        "models/tiny-qwen2-Q5_K_M.gguf", "models/tiny-qwen2-Q4_K_M.gguf"}) {
    DKB_REQUIRE_FIXTURE(f);
    check(f, "models/tiny-qwen2-BF16.gguf");
  }
}

TEST(GgufFixtures, LlamaQuantsDequantizeNearF16) {
  DKB_REQUIRE_FIXTURE("models/tiny-llama-F16.gguf");
  for (const char* f : {"models/tiny-llama-Q8_0.gguf", "models/tiny-llama-Q4_0.gguf",
                        "models/tiny-llama-Q4_K_M.gguf"}) {
    DKB_REQUIRE_FIXTURE(f);
    check(f, "models/tiny-llama-F16.gguf");
  }
}

}  // namespace
}  // namespace dkb::kernels
