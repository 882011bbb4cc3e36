#include "base/log.h"

namespace dkb::log {

void set_level(const char* name) { spdlog::set_level(spdlog::level::from_str(name)); }

}  // namespace dkb::log
