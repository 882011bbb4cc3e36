// load_or_create_secret (jwt.h): the JWT signing secret persisted in the data directory.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "auth/crypto.h"
#include "auth/jwt.h"

namespace dkb::auth {

namespace {

Result<std::string> read_secret(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  std::string out;
  Status s;
  if (::fstat(fd, &st) != 0) {
    s = io_error("cannot stat " + path + ": " + std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    s = failed_precondition(path + " is not a regular file");
  } else if ((st.st_mode & 077) != 0) {
    s = failed_precondition(path + " is readable by others; run chmod 600 " + path);
  } else if (st.st_size > 4096) {
    s = failed_precondition(path + " is larger than 4 KiB; not a deepkb secret");
  } else {
    out.resize(static_cast<size_t>(st.st_size));
    ssize_t n = ::read(fd, out.data(), out.size());
    if (n != static_cast<ssize_t>(out.size())) s = io_error("cannot read " + path);
  }
  ::close(fd);
  if (!s.is_ok()) return s;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out.size() < kMinSecretBytes) {
    return failed_precondition(path + " holds fewer than " + std::to_string(kMinSecretBytes) +
                               " bytes");
  }
  return out;
}

}  // namespace

Result<std::string> load_or_create_secret(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return read_secret(path);
    return io_error("cannot create " + path + ": " + std::strerror(errno));
  }
  std::string secret = to_hex(random_bytes(32)) + "\n";
  bool ok = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return io_error("cannot write " + path + ": " + std::strerror(errno));
  }
  secret.pop_back();
  return secret;
}

}  // namespace dkb::auth
