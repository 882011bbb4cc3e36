// Metrics: counters and histograms exported at /metrics in Prometheus text format.
// Thread-safe (one mutex; updates are a few per request or per token batch).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace dkb::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}
  void observe(double v);
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& route, int status);
  void tokens(int64_t prompt, int64_t cached, int64_t generated);
  void ttft_ms(double ms);
  void per_token_ms(double ms);
  // Gauges are supplied by the caller at render time ("name{labels}" → value); a name ending
  // in "_total" is typed as a counter (a running total the caller keeps, e.g. the scheduler's).
  std::string render(const std::map<std::string, double>& gauges) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, cached_tokens_ = 0, generated_tokens_ = 0;
  Histogram ttft_;
  Histogram per_token_;
};

}  // namespace dkb::server
