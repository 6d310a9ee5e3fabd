#pragma once
// Expected hypervolume improvement (EHVI) of a candidate whose objectives are
// independent Gaussians N(mean_j, sd_j^2), over a believed Pareto front, with
// every objective MAXIMIZED and a reference point `ref`.
//
// 1 objective: expected improvement over max(best front value, ref).
//
// 2 objectives, exact (the cell decomposition of Emmerich et al. 2008 in its
// stripe form): in minimization form (negate everything) with the front
// q_1..q_k sorted by the first objective (a_i ascending, b_i descending),
// a_0 = -inf, b_0 = R_2, a_{k+1} = R_1,
//   EHVI = sum_{i=0..k} [G_1(a_{i+1}) - G_1(a_i)] * G_2(b_i),
//   G_j(c) = E[(c - Y_j)^+] = (c - mu_j) Phi(z) + sd_j phi(z), z = (c - mu_j)/sd_j,
// because the improvement is the integral over y_1 < s < R_1 of
// (b(s) - y_2)^+, and the two objectives are independent.
//
// 3 objectives, exact, by slicing the third objective: with the distinct
// front values c_0 = ref_3 < c_1 < ... < c_m of objective 3 (c_{m+1} = inf),
// the points with p_3 >= c_{t+1} dominate the whole slice [c_t, c_{t+1}) in
// objective 3, so the improvement inside the slice is their 2-D improvement
// times (min(Y_3, c_{t+1}) - c_t)^+. By independence,
//   EHVI = sum_t [psi_3(c_t) - psi_3(c_{t+1})] *
//          sum_i [psi_1(u_{i+1}) - psi_1(u_i)] * psi_2(v_i),
//   psi_j(c) = E[(Y_j - c)^+],
// the inner sum over the slice's staircase (u_i descending, v_i ascending,
// u_0 = inf, v_0 = ref_2, the last u = ref_1): the non-dominated region
// of the slice split into stripes u_{i+1} < x_1 <= u_i, x_2 > v_i. The
// staircases depend only on the front (built in add()), so a candidate
// costs 3(n + 1) evaluations of psi and O(sum of staircase lengths)
// multiplications, n the front size.
//
// 4+ objectives: random hypervolume scalarizations (Golovin & Zhang 2020,
// the scheme OSS Vizier uses). With w uniform on the positive unit sphere and
//   s_w(y) = min_j ((y_j - ref_j)^+ / w_j)^k,
// HV(Y) = c_k E_w[max_{y in Y} s_w(y)], c_k = pi^(k/2) / (2^k Gamma(k/2 + 1)),
// so HVI(y) = c_k E_w[(s_w(y) - max_{y' in front} s_w(y'))^+], and EHVI is its
// expectation over the candidate's Gaussian, estimated with `weights`
// directions and `samples` normal draws, both quasi-random (randomly shifted
// Halton points through the normal quantile; common to every candidate, so
// candidates are compared on the same draws). Directions along which no draw
// can beat the front are skipped exactly. O(weights * samples * k) per
// candidate at most.
// Not thread-safe for writes (add()); const calls may run concurrently.

#include <cstdint>
#include <vector>

#include "autodistill/bo/pareto.hpp"

namespace autodistill::bo {

// Used for 4 or more objectives only.
struct ScalarizationOptions {
  int weights = 128;  // quasi-random directions w
  int samples = 32;   // quasi-random normal draws per candidate
  uint64_t seed = 0;
};

class ExpectedHvi {
 public:
  // `front`: believed objective vectors (dominated ones are ignored).
  // `upper` (2 and 3 objectives; empty = none; +inf entries: unbounded): the
  // hypervolume is counted in the box [ref, upper] only, i.e. the candidate's
  // objectives are min(Y_j, upper_j) and front points (also those add()ed)
  // are clamped to `upper`.
  ExpectedHvi(std::vector<Objectives> front, Objectives ref,
              const ScalarizationOptions& options = {}, Objectives upper = {});

  // EHVI of a candidate with the given means and standard deviations (sd may be 0).
  double operator()(const double* mean, const double* sd) const;
  // Adds a believed point to the front (e.g. a fantasized batch member).
  void add(const Objectives& point);

  const Objectives& ref() const { return ref_; }

 private:
  void rebuild();
  void rebuild_slices();
  void clamp(Objectives& point) const;  // to upper_ (2 and 3 objectives)

  std::vector<Objectives> front_;
  Objectives ref_;
  Objectives upper_;  // per objective; +inf when unbounded
  size_t k_;
  // 1-D: best value.
  double best_ = 0.0;
  // 2-D: the front in minimization form, sorted.
  std::vector<double> a_, b_;
  // k >= 3: directions (weights x k), draws (samples x k), best scalarization per direction.
  std::vector<double> w_, z_, best_w_;
  std::vector<double> z_max_;  // per objective, the largest draw (for pruning directions)
  // k == 3: per objective, the sorted distinct levels (ref and front values);
  // slices of objective 3 and the stripes of their staircases, as level indices
  // (-1: +inf).
  struct Slice {
    int lo = 0, hi = -1;
    size_t first = 0, last = 0;  // stripes_[first, last)
  };
  struct Stripe {
    int u_lo = 0, u_hi = -1, v_lo = 0;
  };
  std::vector<double> levels_[3];
  std::vector<Slice> slices_;
  std::vector<Stripe> stripes_;
  int weights_ = 0, samples_ = 0;
  double c_k_ = 1.0;
};

// Exact 2-objective EHVI (convenience wrapper around ExpectedHvi).
double ehvi_2d(const std::vector<Objectives>& front, const Objectives& ref, const Objectives& mean,
               const Objectives& sd);

// Monte-Carlo EHVI: the mean exact hypervolume improvement over `samples`
// draws of the candidate (a reference for tests).
double ehvi_mc(const std::vector<Objectives>& front, const Objectives& ref, const Objectives& mean,
               const Objectives& sd, size_t samples, uint64_t seed);

}  // namespace autodistill::bo
