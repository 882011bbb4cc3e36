#include "base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace dkb {
namespace {

// Reads exactly n bytes of fd from offset 0 into dst; an error message, or "" on success.
std::string read_all(int fd, uint8_t* dst, size_t n) {
  size_t done = 0;
  while (done < n) {
    const size_t want = std::min<size_t>(n - done, size_t{1} << 30);
    const ssize_t got = pread(fd, dst + done, want, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return std::strerror(errno);
    if (got == 0) {
      return "file shrank while reading (" + std::to_string(done) + " of " + std::to_string(n) +
             " bytes)";
    }
    done += static_cast<size_t>(got);
  }
  return "";
}

}  // namespace

MappedFile::~MappedFile() { reset(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      backing_(other.backing_),
      copy_(std::move(other.copy_)),
      path_(std::move(other.path_)),
      writable_(std::exchange(other.writable_, false)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    backing_ = other.backing_;
    copy_ = std::move(other.copy_);
    path_ = std::move(other.path_);
    writable_ = std::exchange(other.writable_, false);
  }
  return *this;
}

void MappedFile::reset() {
  // An empty file is represented by a non-null sentinel that was never mapped.
  if (data_ != nullptr && size_ > 0 && backing_ == Backing::kFileMap) {
    munmap(const_cast<uint8_t*>(data_), size_);
  }
  copy_ = HugePageBuffer();
  data_ = nullptr;
  size_ = 0;
}

Result<MappedFile> MappedFile::open(const std::string& path, Backing backing) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg = "cannot open '" + path + "': " + std::strerror(e);
    return e == ENOENT ? not_found(msg) : io_error(msg);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    std::string msg = "cannot stat '" + path + "': " + std::strerror(errno);
    ::close(fd);
    return io_error(msg);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_argument("'" + path + "' is not a regular file");
  }
  MappedFile f;
  f.path_ = path;
  f.size_ = static_cast<size_t>(st.st_size);
  if (f.size_ == 0) {
    static const uint8_t kEmpty = 0;
    f.data_ = &kEmpty;
    ::close(fd);
    return f;
  }
  if (backing == Backing::kHugePageCopy) {
    auto buf = HugePageBuffer::allocate(f.size_);
    if (!buf.is_ok()) {
      ::close(fd);
      f.size_ = 0;
      return buf.status().with_context("'" + path + "'");
    }
    f.copy_ = std::move(buf).value();
    f.backing_ = backing;
    f.data_ = f.copy_.data();
    const std::string err = read_all(fd, f.copy_.data(), f.size_);
    ::close(fd);
    if (!err.empty()) return io_error("cannot read '" + path + "': " + err);
    f.copy_.protect_read_only();
    return f;
  }
  void* p = mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    f.size_ = 0;
    return io_error("cannot mmap '" + path + "': " + std::strerror(e));
  }
  f.data_ = static_cast<const uint8_t*>(p);
  return f;
}

uint8_t* MappedFile::unseal() {
  if (backing_ != Backing::kHugePageCopy || copy_.data() == nullptr) return nullptr;
  // Once until seal(): an mprotect of the whole copy walks its page tables (~20 ms per GiB; a
  // call per tensor added seconds to a model's load).
  if (!writable_) copy_.unprotect();
  writable_ = true;
  return copy_.data();
}

void MappedFile::seal() {
  if (backing_ == Backing::kHugePageCopy && writable_) copy_.protect_read_only();
  writable_ = false;
}

void MappedFile::release_pages(const void* p, size_t n) const {
  const auto* b = static_cast<const uint8_t*>(p);
  if (data_ == nullptr || b < data_ || n > size_ || b - data_ > static_cast<ptrdiff_t>(size_ - n)) {
    return;
  }
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(b) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(b) + n) / page * page;
  if (end > begin) {
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
}

}  // namespace dkb
