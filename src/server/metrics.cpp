#include "server/metrics.h"

#include <sstream>

namespace dkb::server {

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::ostringstream o;
  o << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    o << name << "_bucket{le=\"" << bounds_[i] << "\"} " << cum << "\n";
  }
  cum += counts_.back();
  o << name << "_bucket{le=\"+Inf\"} " << cum << "\n";
  o << name << "_sum " << sum_ << "\n" << name << "_count " << count_ << "\n";
  return o.str();
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      per_token_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}) {}

void Metrics::request(const std::string& route, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, status}];
}

void Metrics::tokens(int64_t prompt, int64_t cached, int64_t generated) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  cached_tokens_ += static_cast<uint64_t>(cached);
  generated_tokens_ += static_cast<uint64_t>(generated);
}

void Metrics::ttft_ms(double ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.observe(ms / 1000.0);
}

void Metrics::per_token_ms(double ms) {
  std::lock_guard<std::mutex> lock(mu_);
  per_token_.observe(ms / 1000.0);
}

std::string Metrics::render(const std::map<std::string, double>& gauges) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream o;
  o << "# HELP deepkb_requests_total HTTP requests by route and status.\n"
       "# TYPE deepkb_requests_total counter\n";
  for (const auto& [k, n] : requests_) {
    o << "deepkb_requests_total{route=\"" << k.first << "\",status=\"" << k.second << "\"} " << n
      << "\n";
  }
  o << "# HELP deepkb_prompt_tokens_total Prompt tokens processed (including cached).\n"
       "# TYPE deepkb_prompt_tokens_total counter\ndeepkb_prompt_tokens_total "
    << prompt_tokens_ << "\n";
  o << "# HELP deepkb_prompt_cache_hit_tokens_total Prompt tokens served from the prefix cache.\n"
       "# TYPE deepkb_prompt_cache_hit_tokens_total counter\ndeepkb_prompt_cache_hit_tokens_total "
    << cached_tokens_ << "\n";
  o << "# HELP deepkb_generated_tokens_total Tokens generated.\n"
       "# TYPE deepkb_generated_tokens_total counter\ndeepkb_generated_tokens_total "
    << generated_tokens_ << "\n";
  o << ttft_.render("deepkb_time_to_first_token_seconds", "Time from request to first token.");
  o << per_token_.render("deepkb_time_per_output_token_seconds", "Mean time per generated token, per request.");
  std::string last_base;
  for (const auto& [name, v] : gauges) {  // sorted, so one metric's series are adjacent
    std::string base = name.substr(0, name.find('{'));
    const bool counter = base.size() > 6 && base.compare(base.size() - 6, 6, "_total") == 0;
    if (base != last_base) o << "# TYPE " << base << (counter ? " counter\n" : " gauge\n");
    last_base = base;
    o << name << " " << v << "\n";
  }
  return o.str();
}

}  // namespace dkb::server
