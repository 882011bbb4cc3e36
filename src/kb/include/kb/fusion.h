// Reciprocal rank fusion (Cormack et al. 2009): score(d) = Σ_i w_i / (k + rank_i(d)), ranks
// 1-based, summed over the ranked lists that contain d. k = 60 by default.
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dkb::kb {

struct RankedList {
  std::vector<int64_t> ids;  // best first
  double weight = 1.0;
};

struct FusedHit {
  int64_t id = 0;
  double score = 0;
};

// Fused ranking, best first; ties broken by ascending id.
std::vector<FusedHit> reciprocal_rank_fusion(std::span<const RankedList> lists, double k = 60.0);

}  // namespace dkb::kb
