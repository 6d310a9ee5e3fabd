// The evolutionary baselines, in ask/tell form: each suggestion is computed
// from the evaluated points alone (no hidden population state), so they are
// as deterministic and restartable as "bo".
//
// Both compare evaluated points by constraint domination (Deb et al. 2002):
// a point satisfying the measured constraints beats one that does not, two
// violating points compare by total relative violation, two satisfying points
// by Pareto dominance.

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autodistill/bo/pareto.hpp"
#include "engine_impl.hpp"

namespace autodistill::bo {
namespace {

struct Evaluated {
  std::vector<double> unit;
  Objectives y;  // maximized
  double violation = 0.0;
};

std::vector<Evaluated> evaluated(const Engine::Impl& impl) {
  std::vector<Evaluated> out;
  for (size_t i = 0; i < impl.points.size(); ++i) {
    const PointState& p = impl.points[i];
    if (!impl.complete(p)) continue;
    Evaluated e;
    e.unit = p.unit;
    for (size_t j = 0; j < impl.num_objectives; ++j)
      e.y.push_back(impl.metrics[j].sign * *impl.observed(i, j));
    for (const auto& c : impl.constraints) {
      if (c.analytic) continue;
      const auto v = impl.observed(i, c.metric);
      if (!v || c.satisfied(*v)) continue;
      e.violation += std::abs(*v - c.bound) / std::max(std::abs(c.bound), 1e-12);
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool constraint_dominates(const Evaluated& a, const Evaluated& b) {
  if (a.violation == 0.0 && b.violation > 0.0) return true;
  if (a.violation > 0.0 || b.violation > 0.0) return a.violation < b.violation;
  return dominates(a.y, b.y);
}

}  // namespace

// Multi-objective firefly algorithm (Yang 2010, 2013). The fireflies are the
// `population` most recently evaluated points; suggestion `step` moves
// firefly step % population towards every firefly that dominates it,
//   u <- u + beta0 exp(-gamma r^2) (u_j - u),  beta0 = 1, gamma = 1,
// then adds alpha (U(0,1) - 1/2) per coordinate with alpha = 0.3 * 0.97^t
// (t = evaluations / population, the generation), and snaps the result to
// the nearest available point.
std::optional<Point> firefly_step(const Engine::Impl& impl, size_t step,
                                  const CandidateSource& source, Rng& rng) {
  const std::vector<Evaluated> all = evaluated(impl);
  const size_t pop = static_cast<size_t>(impl.config.population);
  if (all.size() < 2) return std::nullopt;
  const size_t first = all.size() > pop ? all.size() - pop : 0;
  const size_t size = all.size() - first;
  const Evaluated& me = all[first + step % size];
  std::vector<double> u = me.unit;
  for (size_t j = first; j < all.size(); ++j) {
    if (!constraint_dominates(all[j], me)) continue;
    double r2 = 0.0;
    for (size_t f = 0; f < u.size(); ++f) r2 += (all[j].unit[f] - u[f]) * (all[j].unit[f] - u[f]);
    const double beta = std::exp(-r2);
    for (size_t f = 0; f < u.size(); ++f) u[f] += beta * (all[j].unit[f] - u[f]);
  }
  const double alpha =
      0.3 * std::pow(0.97, static_cast<double>(all.size()) / static_cast<double>(pop));
  for (double& x : u) x += alpha * (rng.uniform() - 0.5);
  return source.nearest(u, rng);
}

// Steady-state NSGA-II (Deb et al. 2002): the parents are the best
// `population` evaluated points by (non-dominated rank, crowding distance);
// a child is the uniform crossover (probability 0.9) of two binary-tournament
// winners, mutated per coordinate with probability 1/dims (Gaussian step of
// 0.15 in the unit encoding; a random category for categorical factors), and
// snapped to the nearest available point.
std::optional<Point> nsga2_child(const Engine::Impl& impl, const CandidateSource& source,
                                 Rng& rng) {
  const std::vector<Evaluated> all = evaluated(impl);
  if (all.size() < 2) return std::nullopt;
  // Rank: feasible points by Pareto fronts, then violating points by violation.
  std::vector<size_t> feasible, violating;
  for (size_t i = 0; i < all.size(); ++i)
    (all[i].violation > 0 ? violating : feasible).push_back(i);
  std::vector<Objectives> ys;
  for (size_t i : feasible) ys.push_back(all[i].y);
  std::vector<size_t> rank(all.size(), 0);
  std::vector<double> crowd(all.size(), 0.0);
  size_t r = 0;
  for (const auto& front : non_dominated_sort(ys)) {
    const auto cd = crowding_distance(ys, front);
    for (size_t k = 0; k < front.size(); ++k) {
      rank[feasible[front[k]]] = r;
      crowd[feasible[front[k]]] = cd[k];
    }
    ++r;
  }
  std::stable_sort(violating.begin(), violating.end(),
                   [&](size_t a, size_t b) { return all[a].violation < all[b].violation; });
  for (size_t i : violating) rank[i] = r++;

  std::vector<size_t> order(all.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto better = [&](size_t a, size_t b) {
    return rank[a] != rank[b] ? rank[a] < rank[b] : crowd[a] > crowd[b];
  };
  std::stable_sort(order.begin(), order.end(), better);
  order.resize(std::min(order.size(), static_cast<size_t>(impl.config.population)));
  auto tournament = [&]() {
    const size_t a = order[rng.below(order.size())];
    const size_t b = order[rng.below(order.size())];
    return better(b, a) ? b : a;
  };
  const auto& p1 = all[tournament()].unit;
  const auto& p2 = all[tournament()].unit;
  std::vector<double> u = p1;
  const size_t d = u.size();
  if (rng.uniform() < 0.9) {
    for (size_t f = 0; f < d; ++f) {
      if (rng.uniform() < 0.5) u[f] = p2[f];
    }
  }
  for (size_t f = 0; f < d; ++f) {
    if (rng.uniform() >= 1.0 / static_cast<double>(d)) continue;
    u[f] = impl.space.categorical(f) ? rng.uniform()
                                     : std::clamp(u[f] + 0.15 * rng.normal(), 0.0, 1.0);
  }
  return source.nearest(u, rng);
}

}  // namespace autodistill::bo
