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
// 3+ objectives: random hypervolume scalarizations (Golovin & Zhang 2020,
// the scheme OSS Vizier uses). With w uniform on the positive unit sphere and
//   s_w(y) = min_j ((y_j - ref_j)^+ / w_j)^k,
// HV(Y) = c_k E_w[max_{y in Y} s_w(y)], c_k = pi^(k/2) / (2^k Gamma(k/2 + 1)),
// so HVI(y) = c_k E_w[(s_w(y) - max_{y' in front} s_w(y'))^+], and EHVI is its
// expectation over the candidate's Gaussian, estimated with `weights` random
// directions and `samples` normal draws (common random numbers for every
// candidate, so candidates are compared on the same draws). O(weights *
// samples * k) per candidate.
// Not thread-safe for writes (add()); const calls may run concurrently.

#include <cstdint>
#include <vector>

#include "autodistill/bo/pareto.hpp"

namespace autodistill::bo {

struct ScalarizationOptions {
  int weights = 128;  // random directions w
  int samples = 32;   // normal draws per candidate
  uint64_t seed = 0;
};

class ExpectedHvi {
 public:
  // `front`: believed objective vectors (dominated ones are ignored).
  ExpectedHvi(std::vector<Objectives> front, Objectives ref,
              const ScalarizationOptions& options = {});

  // EHVI of a candidate with the given means and standard deviations (sd may be 0).
  double operator()(const double* mean, const double* sd) const;
  // Adds a believed point to the front (e.g. a fantasized batch member).
  void add(const Objectives& point);

  const Objectives& ref() const { return ref_; }

 private:
  void rebuild();

  std::vector<Objectives> front_;
  Objectives ref_;
  size_t k_;
  // 1-D: best value.
  double best_ = 0.0;
  // 2-D: the front in minimization form, sorted.
  std::vector<double> a_, b_;
  // k >= 3: directions (weights x k), draws (samples x k), best scalarization per direction.
  std::vector<double> w_, z_, best_w_;
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
