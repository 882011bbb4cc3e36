// libFuzzer target for the GGUF reader: any byte string must parse or fail cleanly.
// Build: cmake -DDKB_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ ... ; run: build/fuzz/gguf_fuzz
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("gguf_fuzz", 0);
  if (fd < 0) return 0;
  if (::write(fd, data, size) == static_cast<ssize_t>(size)) {
    auto file = dkb::gguf::File::open("/proc/self/fd/" + std::to_string(fd));
    if (file.is_ok()) {
      for (const auto& t : file->tensors()) {
        volatile uint8_t sink = t.n_bytes ? t.data[t.n_bytes - 1] : 0;
        (void)sink;
      }
    }
  }
  ::close(fd);
  return 0;
}
