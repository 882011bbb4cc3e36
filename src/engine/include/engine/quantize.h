// Model quantization: `deepkb quantize` (GGUF file → GGUF file) and the row converter that
// load-time quantization (ModelOptions::quantize) shares with it.
//
// quantize_model_file follows llama-quantize without an importance matrix: the per-tensor type
// mix of QuantPlanner (quant_plan.h), ggml's reference quantizers (bit-identical blocks), all
// metadata copied in order with general.file_type and general.quantization_version = 2 set,
// split.* keys dropped, and tensors written in llama.cpp's order. So from the same source file
// the output is byte-for-byte what llama-quantize writes (tests/quant checks this on fixtures).
//
// Memory: the input is mmap'd and the output streamed (gguf::Writer::write_streaming): one
// chunk of converted rows (about 16 MiB) per tensor at a time, never the whole model.
//
// Re-quantization: converting a tensor that is already quantized (e.g. Q8_0 → Q4_K) compounds
// two rounding errors and is refused with kFailedPrecondition unless allow_requantize is set,
// in which case a warning is logged per file (as llama-quantize --allow-requantize). Tensors
// that keep their type (norms, or already of the target type) are copied byte for byte.
//
// Errors: the reader's (kNotFound for a missing file, kCorruption …), kInvalidArgument for
// in == out, a source type that cannot be converted (integer tensors) or NaN/Inf weights
// (naming tensor and row), kFailedPrecondition as above, kIOError from the writer. On error
// no output file is left behind.
// Thread-safety: functions are reentrant; conversion uses the given/temporary ThreadPool.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/tensor_type.h"
#include "base/thread_pool.h"
#include "engine/quant_plan.h"
#include "gguf/gguf.h"

namespace dkb::engine {

struct TensorQuantReport {
  std::string name;
  std::vector<int64_t> ne;
  TensorType from = TensorType::kF32;
  TensorType to = TensorType::kF32;
  size_t bytes_in = 0;
  size_t bytes_out = 0;
  bool converted = false;  // false: copied unchanged
  bool fallback = false;   // the planned type did not fit the row length
};

struct QuantizeReport {
  std::vector<TensorQuantReport> tensors;  // in output order
  uint64_t tensor_bytes_in = 0;
  uint64_t tensor_bytes_out = 0;
  uint64_t file_bytes_in = 0;
  uint64_t file_bytes_out = 0;
  int n_converted = 0;
  int n_requantized = 0;
  int n_fallback = 0;
};

struct QuantizeOptions {
  FileType ftype = FileType::kQ4_K_M;
  int threads = 0;  // 0: all cores
  bool allow_requantize = false;
  // Called after each tensor is written (progress output); may be empty.
  std::function<void(const TensorQuantReport&)> on_tensor;
};

Result<QuantizeReport> quantize_model_file(const std::string& in_path, const std::string& out_path,
                                           const QuantizeOptions& opts);

// Quantizes file's tensors in memory exactly as quantize_model_file would write them (same
// plan and bytes), pointing the file's TensorInfo at new buffers appended to `buffers` (which
// must outlive the file) and releasing the original pages. Float tensors only: a tensor that
// would need re-quantization gives kFailedPrecondition. Only for a File not yet shared.
Result<QuantizeReport> quantize_in_memory(gguf::File& file, FileType ftype, int threads,
                                          std::vector<std::vector<uint8_t>>& buffers);

// Converts n_rows rows of row_len elements from src (type src_type: F32/F16/BF16 or any type
// dequantize_row supports) to dst (type dst_type, kernels::can_quantize). Rows are split over
// the pool. dst must hold n_rows * tensor_row_size(dst_type, row_len) bytes.
// kInvalidArgument when a type is unsupported, row_len does not fit a block size, or a row
// holds NaN/Inf (naming the first such row; dst is fully written regardless).
Status convert_rows(ThreadPool& pool, TensorType src_type, const void* src, TensorType dst_type,
                    void* dst, int64_t row_len, int64_t n_rows);

}  // namespace dkb::engine
