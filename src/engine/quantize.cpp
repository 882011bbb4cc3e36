#include "engine/quantize.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <memory>

#include "base/log.h"
#include "gguf/gguf.h"
#include "kernels/kernels.h"

namespace dkb::engine {
namespace {

bool is_float_type(TensorType t) {
  return t == TensorType::kF32 || t == TensorType::kF16 || t == TensorType::kBF16;
}

// Output chunk size per streamed write: big enough to keep all threads busy, small enough
// that a multi-GB model never needs more than this (plus one f32 row per thread).
constexpr size_t kChunkBytes = 16u << 20;

}  // namespace

Status convert_rows(ThreadPool& pool, TensorType src_type, const void* src, TensorType dst_type,
                    void* dst, int64_t row_len, int64_t n_rows) {
  if (!kernels::is_supported_weight_type(src_type)) {
    return invalid_argument("cannot convert from tensor type " +
                            std::string(tensor_type_name(src_type)));
  }
  if (!kernels::can_quantize(dst_type)) {
    return invalid_argument("cannot quantize to tensor type " +
                            std::string(tensor_type_name(dst_type)));
  }
  const auto st = tensor_type_traits(src_type);
  const auto dt = tensor_type_traits(dst_type);
  if (row_len <= 0 || row_len % st->block_size != 0 || row_len % dt->block_size != 0) {
    return invalid_argument("row length " + std::to_string(row_len) + " does not fit " +
                            std::string(tensor_type_name(src_type)) + " -> " +
                            std::string(tensor_type_name(dst_type)) + " blocks");
  }
  const size_t src_row = tensor_row_size(src_type, row_len);
  const size_t dst_row = tensor_row_size(dst_type, row_len);
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  // First non-finite row, or n_rows: llama.cpp rejects such data after quantizing
  // (ggml_validate_row_data); we check the source so the message can name the row.
  std::atomic<int64_t> bad_row{n_rows};
  pool.run([&](int ith, int nth) {
    const auto [r0, r1] = ThreadPool::split(n_rows, ith, nth);
    if (r0 >= r1) return;
    std::vector<float> row(static_cast<size_t>(row_len));  // [row_len]
    for (int64_t r = r0; r < r1; ++r) {
      kernels::dequantize_row(src_type, in + r * src_row, row.data(), row_len);
      for (float v : row) {
        if (!std::isfinite(v)) {
          int64_t cur = bad_row.load();
          while (r < cur && !bad_row.compare_exchange_weak(cur, r)) {
          }
          break;
        }
      }
      kernels::quantize_row(dst_type, row.data(), out + r * dst_row, row_len);
    }
  });
  if (bad_row.load() < n_rows) {
    return invalid_argument("row " + std::to_string(bad_row.load()) +
                            " contains NaN or infinite values");
  }
  return Status::ok();
}

Result<QuantizeReport> quantize_model_file(const std::string& in_path, const std::string& out_path,
                                           const QuantizeOptions& opts) {
  std::error_code ec;
  if (std::filesystem::exists(out_path, ec) && std::filesystem::equivalent(in_path, out_path, ec)) {
    return invalid_argument("output '" + out_path + "' is the input file");
  }
  auto opened = gguf::File::open(in_path);
  if (!opened.is_ok()) return opened.status().with_context("input '" + in_path + "'");
  const gguf::File& in = *opened;

  // Plan every tensor first, so a refusal happens before anything is written.
  QuantPlanner planner(opts.ftype, in);
  const std::vector<size_t> order = llama_tensor_order(in);
  QuantizeReport report;
  report.file_bytes_in = in.file_size();
  std::vector<QuantPlanner::Decision> decisions;
  for (size_t idx : order) {
    const gguf::TensorInfo& t = in.tensors()[idx];
    QuantPlanner::Decision d = planner.decide(t);
    if (d.quantize) {
      if (!kernels::is_supported_weight_type(t.type)) {
        return invalid_argument(
            "tensor '" + t.name + "' has type " + std::string(tensor_type_name(t.type)) +
            ", which cannot be converted to " + std::string(tensor_type_name(d.type)));
      }
      if (!is_float_type(t.type)) {
        if (!opts.allow_requantize) {
          return failed_precondition(
              "tensor '" + t.name + "' is already quantized (" +
              std::string(tensor_type_name(t.type)) + "); re-quantizing to " +
              std::string(tensor_type_name(d.type)) +
              " compounds two rounding errors. Quantize from the F16/BF16/F32 file, or pass "
              "--allow-requantize to do it anyway");
        }
        ++report.n_requantized;
      }
    }
    decisions.push_back(d);
  }
  if (report.n_requantized > 0) {
    log::warn(
        "*** re-quantizing {} already-quantized tensors of '{}': quality will be worse "
        "than quantizing the original F16/BF16/F32 weights ***",
        report.n_requantized, in_path);
  }

  // Metadata as llama.cpp writes it: every input key in order except split.* (one output
  // file, not shards), then quantization_version and file_type appended last (its gguf_set_*
  // removes a key and appends it), so headers come out byte-identical to llama-quantize's.
  gguf::Writer w(in.alignment());
  for (const auto& [key, value] : in.metadata()) {
    if (key.rfind("split.", 0) == 0) continue;
    if (key == "general.quantization_version" || key == "general.file_type") continue;
    w.set(key, value);
  }
  w.set_u32("general.quantization_version", 2);
  w.set_u32("general.file_type", static_cast<uint32_t>(opts.ftype));
  for (size_t k = 0; k < order.size(); ++k) {
    const gguf::TensorInfo& t = in.tensors()[order[k]];
    DKB_RETURN_IF_ERROR(w.add_tensor_deferred(t.name, decisions[k].type, t.ne));
  }

  ThreadPool pool(opts.threads);
  std::vector<uint8_t> chunk;
  auto produce = [&](size_t k, gguf::TensorSink& sink) -> Status {
    const gguf::TensorInfo& t = in.tensors()[order[k]];
    const QuantPlanner::Decision& d = decisions[k];
    TensorQuantReport tr{t.name,     t.ne,      t.type, d.type, t.n_bytes, w.tensor_bytes(k),
                         d.quantize, d.fallback};
    if (!d.quantize) {
      for (size_t off = 0; off < t.n_bytes; off += kChunkBytes) {
        const size_t n = std::min(kChunkBytes, t.n_bytes - off);
        DKB_RETURN_IF_ERROR(sink.write(t.data + off, n));
        in.release_pages(t.data + off, n);
      }
    } else {
      const int64_t row_len = t.ne[0];
      const int64_t n_rows = t.n_rows();
      const size_t src_row = tensor_row_size(t.type, row_len);
      const size_t dst_row = tensor_row_size(d.type, row_len);
      const int64_t rows_per_chunk =
          std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / std::max(dst_row, src_row)));
      for (int64_t r = 0; r < n_rows; r += rows_per_chunk) {
        const int64_t nr = std::min(rows_per_chunk, n_rows - r);
        chunk.resize(static_cast<size_t>(nr) * dst_row);
        DKB_RETURN_IF_ERROR(
            convert_rows(pool, t.type, t.data + r * src_row, d.type, chunk.data(), row_len, nr));
        DKB_RETURN_IF_ERROR(sink.write(chunk.data(), chunk.size()));
        // The source rows are not read again: keep the resident set at about one chunk even
        // for a multi-GB embedding matrix.
        in.release_pages(t.data + r * src_row, static_cast<size_t>(nr) * src_row);
      }
      ++report.n_converted;
    }
    report.n_fallback += d.fallback ? 1 : 0;
    report.tensor_bytes_in += tr.bytes_in;
    report.tensor_bytes_out += tr.bytes_out;
    if (opts.on_tensor) opts.on_tensor(tr);
    report.tensors.push_back(std::move(tr));
    return Status::ok();
  };
  Status st = w.write_streaming(out_path, produce);
  if (!st.is_ok()) return st.with_context("writing '" + out_path + "'");
  report.file_bytes_out = std::filesystem::file_size(out_path, ec);
  return report;
}

Result<QuantizeReport> quantize_in_memory(gguf::File& file, FileType ftype, int threads,
                                          std::vector<std::vector<uint8_t>>& buffers) {
  QuantPlanner planner(ftype, file);
  QuantizeReport report;
  report.file_bytes_in = file.file_size();
  struct Job {
    size_t index;
    QuantPlanner::Decision decision;
  };
  std::vector<Job> jobs;
  for (size_t idx : llama_tensor_order(file)) {
    const gguf::TensorInfo& t = file.tensors()[idx];
    QuantPlanner::Decision d = planner.decide(t);
    if (d.quantize && !is_float_type(t.type)) {
      return failed_precondition("--quantize " + std::string(file_type_name(ftype)) +
                                 " needs a model with F16/BF16/F32 "
                                 "weights, but tensor '" +
                                 t.name + "' is already " + std::string(tensor_type_name(t.type)) +
                                 " (load that file without --quantize)");
    }
    jobs.push_back({idx, d});
  }
  ThreadPool pool(threads);
  for (const Job& job : jobs) {
    const gguf::TensorInfo t = file.tensors()[job.index];  // copy: replace_tensor rewrites it
    TensorQuantReport tr{t.name,
                         t.ne,
                         t.type,
                         job.decision.type,
                         t.n_bytes,
                         t.n_bytes,
                         job.decision.quantize,
                         job.decision.fallback};
    if (job.decision.quantize) {
      const size_t out_bytes =
          static_cast<size_t>(t.n_rows()) * tensor_row_size(job.decision.type, t.ne[0]);
      std::vector<uint8_t> buf(out_bytes);
      // By chunks of rows, releasing each chunk's source pages as soon as it is converted, so
      // the peak is the quantized model plus one chunk of F16, not plus the largest tensor.
      const size_t src_row = tensor_row_size(t.type, t.ne[0]);
      const size_t dst_row = tensor_row_size(job.decision.type, t.ne[0]);
      const int64_t rows_per_chunk =
          std::max<int64_t>(1, static_cast<int64_t>(kChunkBytes / std::max(src_row, dst_row)));
      for (int64_t r = 0; r < t.n_rows(); r += rows_per_chunk) {
        const int64_t nr = std::min(rows_per_chunk, t.n_rows() - r);
        Status st = convert_rows(pool, t.type, t.data + r * src_row, job.decision.type,
                                 buf.data() + r * dst_row, t.ne[0], nr);
        if (!st.is_ok()) return st.with_context("tensor '" + t.name + "'");
        file.release_pages(t.data + r * src_row, static_cast<size_t>(nr) * src_row);
      }
      DKB_RETURN_IF_ERROR(file.replace_tensor(t.name, job.decision.type, buf.data(), buf.size()));
      buffers.push_back(std::move(buf));
      tr.bytes_out = out_bytes;
      ++report.n_converted;
    }
    report.n_fallback += job.decision.fallback ? 1 : 0;
    report.tensor_bytes_in += tr.bytes_in;
    report.tensor_bytes_out += tr.bytes_out;
    report.tensors.push_back(std::move(tr));
  }
  return report;
}

}  // namespace dkb::engine
