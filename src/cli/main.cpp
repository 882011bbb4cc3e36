// deepkb: command-line entry point. Subcommands are dispatched by name.
#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::printf("usage: deepkb <command> [options]\n");
    return argc < 2 ? 1 : 0;
  }
  std::fprintf(stderr, "deepkb: unknown command '%s'\n", argv[1]);
  return 1;
}
