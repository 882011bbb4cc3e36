#include "kb/index_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "kb/crc32c.h"

namespace dkb::kb {
namespace {

constexpr char kMagic[8] = {'D', 'K', 'B', 'V', 'I', 'D', 'X', '1'};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

Status errno_status(const std::string& what) {
  return io_error(what + ": " + std::strerror(errno));
}

Status write_all(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return errno_status("writing " + path);
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::ok();
}

Status read_exact(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_status("reading index file");
    if (r == 0) return corruption("index file is truncated");
    p += r;
    n -= static_cast<size_t>(r);
  }
  return Status::ok();
}

template <typename T>
void put(char* buf, size_t off, T v) {
  std::memcpy(buf + off, &v, sizeof(T));
}
template <typename T>
T get(const char* buf, size_t off) {
  T v;
  std::memcpy(&v, buf + off, sizeof(T));
  return v;
}

void encode(const IndexFileHeader& h, char* b) {
  std::memset(b, 0, kIndexHeaderBytes);
  std::memcpy(b, kMagic, 8);
  put<uint32_t>(b, 8, h.version);
  put<uint32_t>(b, 12, h.kind);
  put<uint32_t>(b, 16, h.dimension);
  put<uint32_t>(b, 20, static_cast<uint32_t>(h.metric));
  put<uint64_t>(b, 24, h.count);
  put<uint64_t>(b, 32, h.generation);
  put<int64_t>(b, 40, h.collection_id);
  put<uint64_t>(b, 48, h.payload_bytes);
  put<uint32_t>(b, 56, h.payload_crc);
  put<uint32_t>(b, 60, crc32c(b, 60));
}

Result<IndexFileHeader> decode(const char* b) {
  if (std::memcmp(b, kMagic, 8) != 0) return corruption("not a deepkb vector-index file (magic)");
  if (get<uint32_t>(b, 60) != crc32c(b, 60)) return corruption("index file header checksum mismatch");
  IndexFileHeader h;
  h.version = get<uint32_t>(b, 8);
  if (h.version > kIndexFileVersion) {
    return failed_precondition("index file version " + std::to_string(h.version) +
                               " is newer than this build supports");
  }
  h.kind = get<uint32_t>(b, 12);
  h.dimension = get<uint32_t>(b, 16);
  uint32_t metric = get<uint32_t>(b, 20);
  if (metric > 2) return corruption("index file names an unknown metric");
  h.metric = static_cast<Metric>(metric);
  h.count = get<uint64_t>(b, 24);
  h.generation = get<uint64_t>(b, 32);
  h.collection_id = get<int64_t>(b, 40);
  h.payload_bytes = get<uint64_t>(b, 48);
  h.payload_crc = get<uint32_t>(b, 56);
  return h;
}

// Opens `path`, validates header, size and checksum; leaves the fd positioned at the payload.
Result<IndexFileHeader> open_checked(const std::string& path, Fd& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return not_found("index file " + path + " does not exist");
    return errno_status("opening " + path);
  }
  Fd f(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0) return errno_status("stat " + path);
  if (static_cast<uint64_t>(st.st_size) < kIndexHeaderBytes) {
    return corruption("index file " + path + " is truncated (no header)");
  }
  char hb[kIndexHeaderBytes];
  DKB_RETURN_IF_ERROR(read_exact(fd, hb, sizeof hb));
  auto h = decode(hb);
  if (!h.is_ok()) return h.status().with_context(path);
  if (static_cast<uint64_t>(st.st_size) != kIndexHeaderBytes + h->payload_bytes) {
    return corruption("index file " + path + " has " + std::to_string(st.st_size) +
                      " bytes, header says " + std::to_string(kIndexHeaderBytes + h->payload_bytes));
  }
  std::vector<char> buf(1 << 20);
  uint32_t crc = 0;
  for (uint64_t left = h->payload_bytes; left > 0;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    DKB_RETURN_IF_ERROR(read_exact(fd, buf.data(), n));
    crc = crc32c_extend(crc, buf.data(), n);
    left -= n;
  }
  if (crc != h->payload_crc) return corruption("index file " + path + " payload checksum mismatch");
  if (lseek(fd, static_cast<off_t>(kIndexHeaderBytes), SEEK_SET) < 0) {
    return errno_status("seeking " + path);
  }
  out.reset(f.release());
  return h;
}

}  // namespace

Status IndexFileWriter::write(const void* data, size_t n) {
  crc_ = crc32c_extend(crc_, data, n);
  bytes_ += n;
  const char* p = static_cast<const char*>(data);
  if (buf_.size() + n > buf_.capacity()) {
    DKB_RETURN_IF_ERROR(flush());
    if (n >= buf_.capacity()) return write_all(fd_, p, n, "index file");
  }
  buf_.insert(buf_.end(), p, p + n);
  return Status::ok();
}

Status IndexFileWriter::flush() {
  Status s = write_all(fd_, buf_.data(), buf_.size(), "index file");
  buf_.clear();
  return s;
}

Status IndexFileReader::read(void* data, size_t n) {
  if (n > left_) return corruption("index payload ends early");
  char* out = static_cast<char*>(data);
  while (n > 0) {
    if (pos_ == buf_.size()) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(left_, 1 << 20));
      buf_.resize(chunk);
      DKB_RETURN_IF_ERROR(read_exact(fd_, buf_.data(), chunk));
      pos_ = 0;
    }
    size_t take = std::min(n, buf_.size() - pos_);
    std::memcpy(out, buf_.data() + pos_, take);
    pos_ += take;
    out += take;
    n -= take;
    left_ -= take;
  }
  return Status::ok();
}

Status write_index_file(const std::string& path, IndexFileHeader header,
                        const std::function<Status(IndexFileWriter&)>& payload) {
  static std::atomic<uint64_t> counter{0};
  namespace fs = std::filesystem;
  std::string tmp = path + ".tmp." + std::to_string(getpid()) + "." + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("creating " + tmp);
  Fd f(fd);
  auto fail = [&](Status s) {
    std::error_code ec;
    fs::remove(tmp, ec);
    return s;
  };
  char hb[kIndexHeaderBytes] = {};
  if (Status s = write_all(fd, hb, sizeof hb, tmp); !s.is_ok()) return fail(s);
  IndexFileWriter w(fd);
  if (Status s = payload(w); !s.is_ok()) return fail(s);
  if (Status s = w.flush(); !s.is_ok()) return fail(s);
  header.payload_bytes = w.bytes();
  header.payload_crc = w.crc();
  encode(header, hb);
  if (pwrite(fd, hb, sizeof hb, 0) != static_cast<ssize_t>(sizeof hb)) {
    return fail(errno_status("writing header of " + tmp));
  }
  if (fsync(fd) != 0) return fail(errno_status("fsync " + tmp));
  if (::close(f.release()) != 0) return fail(errno_status("closing " + tmp));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail(errno_status("renaming " + tmp));
  std::string dir = fs::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    Fd d(dfd);
    if (fsync(dfd) != 0) return errno_status("fsync " + dir);
  }
  return Status::ok();
}

Result<IndexFileHeader> check_index_file(const std::string& path) {
  Fd fd(-1);
  return open_checked(path, fd);
}

Result<IndexFileHeader> read_index_file(
    const std::string& path,
    const std::function<Status(const IndexFileHeader&, IndexFileReader&)>& parse) {
  Fd fd(-1);
  DKB_ASSIGN_OR_RETURN(IndexFileHeader h, open_checked(path, fd));
  IndexFileReader r(fd.get(), h.payload_bytes);
  Status s = parse(h, r);
  if (!s.is_ok()) return s.with_context(path);
  if (r.left() != 0) return corruption("index file " + path + " has trailing payload bytes");
  return h;
}

}  // namespace dkb::kb
