#pragma once
// CandidatePosterior: the GP posterior (mean, variance) over a fixed set of
// candidate points, updated in place as "kriging believer" fantasies are
// added (Ginsbourger et al. 2010): a pending or just-chosen candidate p is
// treated as observed at its posterior mean. The mean is then unchanged
// everywhere, and the covariance gets the rank-one update
//   c'(x, y) = c(x, y) - c(x, p) c(p, y) / (c(p, p) + noise).
// Only the variances and the update vectors u_j = c(., p_j) / sqrt(c(p_j,
// p_j) + noise) are stored, so a fantasy costs O(m n + m J) for m candidates,
// n observations and J earlier fantasies. Standardized units, as Gp.
// Not thread-safe for writes; the referenced Gp must outlive this object.

#include <Eigen/Core>

#include "autodistill/bo/gp.hpp"

namespace autodistill::bo {

class CandidatePosterior {
 public:
  // C: dims x m unit-encoded candidates.
  CandidatePosterior(const Gp& gp, Eigen::MatrixXd C);

  Eigen::Index size() const { return C_.cols(); }
  const Eigen::VectorXd& mean() const { return mean_; }
  const Eigen::VectorXd& var() const { return var_; }

  // Conditions on candidate i observed at its posterior mean.
  void add_fantasy(Eigen::Index i);

 private:
  const Gp* gp_;
  Eigen::MatrixXd C_;
  Eigen::MatrixXd V_;  // L^-1 K(X, C)
  Eigen::MatrixXd U_;  // m x J update vectors
  Eigen::Index fantasies_ = 0;
  Eigen::VectorXd mean_;
  Eigen::VectorXd var_;
};

}  // namespace autodistill::bo
