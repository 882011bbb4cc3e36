#include "kb/fusion.h"

#include <algorithm>
#include <unordered_map>

namespace dkb::kb {

std::vector<FusedHit> reciprocal_rank_fusion(std::span<const RankedList> lists, double k) {
  std::unordered_map<int64_t, double> scores;
  for (const RankedList& list : lists) {
    for (size_t r = 0; r < list.ids.size(); ++r) {
      scores[list.ids[r]] += list.weight / (k + static_cast<double>(r + 1));
    }
  }
  std::vector<FusedHit> out;
  out.reserve(scores.size());
  for (auto [id, s] : scores) out.push_back({id, s});
  std::sort(out.begin(), out.end(), [](const FusedHit& a, const FusedHit& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  return out;
}

}  // namespace dkb::kb
