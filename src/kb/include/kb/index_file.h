// The vector-index file: a persisted ANN index of one collection, in DIR/indexes/.
//
// File format (version 1), all integers little-endian:
//   offset size  field
//        0    8  magic "DKBVIDX1"
//        8    4  version (kIndexFileVersion = 1)
//       12    4  kind: 1 = HNSW graph (hnsw_index.h)
//       16    4  dimension
//       20    4  metric: 0 = cosine, 1 = inner product, 2 = L2 (kb::Metric)
//       24    8  count: live (not deleted) vectors in the index
//       32    8  generation: the SQLite store's generation of the collection that the index
//                reflects (Store::generation(), persisted in kb.db). A file whose generation
//                differs from the store's is stale and is rebuilt from SQLite.
//       40    8  collection_id: the collections row the index belongs to
//       48    8  payload_bytes: bytes after the header; file size must be 64 + payload_bytes
//       56    4  payload_crc32c: CRC-32C (crc32c.h) of the payload
//       60    4  header_crc32c: CRC-32C of bytes 0..59
//       64    …  payload (for kind 1: the hnswlib 0.6 graph layout, see hnsw_index.cpp)
// Corruption (bad magic, header or payload checksum, truncation, trailing bytes) is reported
// as kCorruption; a newer version as kFailedPrecondition. Either way the caller rebuilds from
// SQLite, which stays the source of truth.
// Durability: write_index_file() writes "<path>.tmp.<pid>.<n>", fsyncs it, renames it over
// `path` and fsyncs the directory, so a crash leaves the old file or the new one, never a mix.
// Thread-safety: free functions and single-owner reader/writer objects; concurrent writers of
// the same path are safe (unique temp names, atomic rename: the last one wins).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kb/types.h"

namespace dkb::kb {

inline constexpr uint32_t kIndexFileVersion = 1;
inline constexpr uint32_t kIndexKindHnsw = 1;
inline constexpr size_t kIndexHeaderBytes = 64;

struct IndexFileHeader {
  uint32_t version = kIndexFileVersion;
  uint32_t kind = kIndexKindHnsw;
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
  uint64_t count = 0;
  uint64_t generation = 0;
  int64_t collection_id = 0;
  uint64_t payload_bytes = 0;  // set by write_index_file
  uint32_t payload_crc = 0;    // set by write_index_file
};

// Buffered payload sink handed to the payload callback of write_index_file().
class IndexFileWriter {
 public:
  explicit IndexFileWriter(int fd) : fd_(fd) { buf_.reserve(1 << 20); }
  Status write(const void* data, size_t n);
  template <typename T>
  Status write_pod(const T& v) {
    return write(&v, sizeof(T));
  }
  Status flush();
  uint64_t bytes() const { return bytes_; }
  uint32_t crc() const { return crc_; }

 private:
  int fd_;
  std::vector<char> buf_;
  uint64_t bytes_ = 0;
  uint32_t crc_ = 0;
};

// Bounds-checked payload source over a validated file; short reads are kCorruption.
class IndexFileReader {
 public:
  IndexFileReader(int fd, uint64_t payload_bytes) : fd_(fd), left_(payload_bytes) {}
  Status read(void* data, size_t n);
  template <typename T>
  Status read_pod(T& v) {
    return read(&v, sizeof(T));
  }
  uint64_t left() const { return left_; }

 private:
  int fd_;
  uint64_t left_;
  std::vector<char> buf_;
  size_t pos_ = 0;
};

// Writes `header` + the payload produced by `payload` durably to `path` (see above).
Status write_index_file(const std::string& path, IndexFileHeader header,
                        const std::function<Status(IndexFileWriter&)>& payload);

// Reads and validates the header, the file size and the payload checksum (reads the whole
// file). kNotFound when the file does not exist.
Result<IndexFileHeader> check_index_file(const std::string& path);

// check_index_file() and then hands the payload to `parse`.
Result<IndexFileHeader> read_index_file(const std::string& path,
                                        const std::function<Status(const IndexFileHeader&,
                                                                   IndexFileReader&)>& parse);

}  // namespace dkb::kb
