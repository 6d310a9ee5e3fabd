// Initial design for "bo": the centre of the space first, then a maximin
// Latin hypercube (the best of several random ones by the smallest pairwise
// distance), decoded to grid points. Snapping to feasible, unused points is
// done by CandidateSource::nearest at suggestion time. A categorical factor
// has no centre (its categories have no order): the first point takes a
// category drawn with the seed instead of the middle one of the list, so
// the order in which a study lists its categories does not decide it.

#include <algorithm>
#include <limits>
#include <numeric>

#include "engine_impl.hpp"

namespace autodistill::bo {
namespace {
constexpr int kCandidateDesigns = 20;
}

std::vector<Point> latin_hypercube_design(const Space& space, size_t count, uint64_t seed) {
  std::vector<Point> design;
  if (count == 0) return design;
  const size_t d = space.dims();
  Rng rng(hash_combine(seed, 0x1a7e5ULL));
  Point centre = space.centre();
  for (size_t f = 0; f < d; ++f) {
    if (space.categorical(f))
      centre[f] = static_cast<double>(rng.below(space.factor(f).categories.size()));
  }
  design.push_back(std::move(centre));
  const size_t m = count - 1;
  if (m == 0) return design;
  std::vector<std::vector<double>> best;
  double best_score = -1.0;
  for (int c = 0; c < kCandidateDesigns; ++c) {
    std::vector<std::vector<double>> u(m, std::vector<double>(d));
    for (size_t f = 0; f < d; ++f) {
      std::vector<size_t> perm(m);
      std::iota(perm.begin(), perm.end(), size_t{0});
      for (size_t i = m; i > 1; --i) std::swap(perm[i - 1], perm[rng.below(i)]);
      for (size_t i = 0; i < m; ++i)
        u[i][f] = (static_cast<double>(perm[i]) + rng.uniform()) / static_cast<double>(m);
    }
    double score = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = i + 1; j < m; ++j) {
        double dist = 0.0;
        for (size_t f = 0; f < d; ++f) dist += (u[i][f] - u[j][f]) * (u[i][f] - u[j][f]);
        score = std::min(score, dist);
      }
    }
    if (score > best_score) {
      best_score = score;
      best = std::move(u);
    }
  }
  for (const auto& u : best) design.push_back(space.decode(u));
  return design;
}

}  // namespace autodistill::bo
