// Logging: a thin facade over spdlog so modules share one logger and one format.
// Thread-safe. Messages never contain secrets (passwords, keys, tokens).
#pragma once

#include <spdlog/spdlog.h>

namespace dkb::log {

// Sets the level from a name ("trace", "debug", "info", "warn", "error", "off").
void set_level(const char* name);

template <typename... Args>
void info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::error(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::debug(fmt, std::forward<Args>(args)...);
}

}  // namespace dkb::log
