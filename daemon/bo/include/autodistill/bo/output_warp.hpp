#pragma once
// OutputWarp: a monotone increasing map of a metric's (log-)transformed
// values onto a scale where they look normal, fitted to the data before the
// GP sees them: standardization, then the Yeo-Johnson power transform
// (Yeo & Johnson 2000)
//   psi(y; l) = ((y + 1)^l - 1) / l              y >= 0, l != 0
//             = log(y + 1)                       y >= 0, l = 0
//             = -((1 - y)^(2 - l) - 1) / (2 - l) y < 0,  l != 2
//             = -log(1 - y)                      y < 0,  l = 2
// with l the maximum-likelihood estimate of a normal model of psi(y)
// (profile log-likelihood -n/2 log var(psi) + (l - 1) sum sign(y) log(|y| + 1)),
// searched in [-2, 4]. HEBO (Cowen-Rivers et al. 2022) warps its outputs the
// same way. Why: a stationary GP on raw values is pulled apart by skew and
// outliers, e.g. accuracies that saturate towards 100 % next to degenerate
// candidates at chance level; the warped values are close to normal, so the
// GP's length-scales follow the bulk of the data (bench/bo nas-cell:
// docs/BENCHMARKS.md). Being monotone, the warp keeps every order: Pareto
// dominance, references and constraint bounds map through the same function.
// Immutable value type; thread-safe.

#include <vector>

namespace autodistill::bo {

class OutputWarp {
 public:
  OutputWarp() = default;  // the identity
  // Fits the warp to values (at least 3 distinct ones, else the identity).
  static OutputWarp fit(const std::vector<double>& values);

  double operator()(double y) const;
  bool identity() const { return identity_; }
  double lambda() const { return lambda_; }

 private:
  bool identity_ = true;
  double mean_ = 0.0, sd_ = 1.0, lambda_ = 1.0;
};

}  // namespace autodistill::bo
