#pragma once
// Pareto utilities. Every objective is MAXIMIZED here: negate the values of a
// minimized objective first. Pure functions; thread-safe.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "autodistill/pareto.hpp"

namespace autodistill::bo {

using Objectives = ObjectiveVector;

// Dominance and the front are the project's one implementation
// (autodistill/pareto.hpp, shared with the daemon and the client report):
//   dominates(a, b): a >= b in every objective and a > b in at least one;
//   pareto_front(points): indices of the points no other point dominates,
//   ascending; equal points are all kept.
using autodistill::dominates;
using autodistill::pareto_front;

// Fast non-dominated sort (Deb et al. 2002): fronts[0] is the Pareto front,
// fronts[1] the front of the rest, and so on. O(m n^2).
std::vector<std::vector<size_t>> non_dominated_sort(const std::vector<Objectives>& points);

// NSGA-II crowding distance of each member of `front` (same order);
// boundary points get +infinity.
std::vector<double> crowding_distance(const std::vector<Objectives>& points,
                                      const std::vector<size_t>& front);

// A hypervolume reference point inferred from the points themselves (as
// BoTorch's infer_reference_point, which Ax uses for objective thresholds
// nobody declared): per objective, the nadir of the Pareto front of `points`
// (its worst value there) minus `scale` times the front's range in that
// objective (ideal - nadir). Dominated points do not move it, however bad
// they are. An objective whose front range is 0 (e.g. a front of one point)
// gets NaN: the caller needs another rule for it. Empty for no points.
Objectives front_reference(const std::vector<Objectives>& points, double scale = 0.1);
// The same over the union of the first `layers` non-dominated layers
// (non_dominated_sort; layers = 1: front_reference): near-front points widen
// the box, points dominated by many others do not.
Objectives layered_front_reference(const std::vector<Objectives>& points, size_t layers,
                                   double scale = 0.1);

// As front_reference, but the margin below the nadir is, per objective, the
// largest gap between consecutive values of the front in that objective
// (sorted): the box reaches as far beyond the front's ends as the front's
// own sparsest stretch. NaN where the front has no spread; empty for no
// points.
Objectives front_gap_reference(const std::vector<Objectives>& points);

// The q-quantile (0 <= q <= 1, linear interpolation between order
// statistics) of `values`; NaN for none.
double quantile(std::vector<double> values, double q);

// Exact hypervolume of the region dominated by `points` and dominating `ref`
// (the union of the boxes [ref, p]; points not strictly better than ref in
// every objective add nothing). 1-D: max; 2-D: sort and sweep, O(n log n);
// >= 3-D: hypervolume by slicing objectives (While et al. 2006), O(n^(d-1)
// log n) — fine for the few hundred points of a study.
double hypervolume(const std::vector<Objectives>& points, const Objectives& ref);

// Monte-Carlo estimate of the same quantity with `samples` uniform draws in
// the bounding box [ref, max(points)].
double hypervolume_mc(const std::vector<Objectives>& points, const Objectives& ref, size_t samples,
                      uint64_t seed);

}  // namespace autodistill::bo
