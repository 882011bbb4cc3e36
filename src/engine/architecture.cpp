#include "engine/architecture.h"

#include <map>
#include <mutex>

namespace dkb::engine {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, ArchitectureFactory> factories;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

void register_architecture(const std::string& name, ArchitectureFactory factory) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.factories[name] = std::move(factory);
}

Result<ArchitectureFactory> find_architecture(const std::string& name) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.factories.find(name);
  if (it == r.factories.end()) {
    std::string known;
    for (const auto& [n, f] : r.factories) known += (known.empty() ? "" : ", ") + n;
    return unimplemented("unsupported architecture '" + name + "' (supported: " + known + ")");
  }
  return it->second;
}

std::vector<std::string> registered_architectures() {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> out;
  for (const auto& [n, f] : r.factories) out.push_back(n);
  return out;
}

}  // namespace dkb::engine
