#pragma once
// Gp: an exact Gaussian-process regression model for one metric, on
// unit-encoded points (columns of X). Constant mean, Matern-5/2 ARD kernel,
// Gaussian observation noise, outputs standardized to zero mean and unit
// variance before anything else (predictions are in standardized units; use
// y_mean()/y_std() to go back).
//
// Hyper-parameters theta = [log l_1..log l_D, log s2, log noise, mean] are the
// maximum a posteriori estimate: L-BFGS-B (LBFGS++) on
//   log p(y | theta) + log p(theta),
//   log p(y | theta) = -1/2 (y - m)' K^-1 (y - m) - 1/2 log|K| - n/2 log 2pi
// (Rasmussen & Williams 2006, eq. 5.8) with the analytic gradient (eq. 5.9)
//   d/dtheta_j = 1/2 tr((a a' - K^-1) dK/dtheta_j),  a = K^-1 (y - m),
// from the default start plus `random_starts` starts drawn from the prior.
// Priors (independent, in standardized units; boxes are the L-BFGS-B bounds):
//   log l_f   ~ N(log 0.5, 1),   l_f   in [0.01, 20]
//   log s2    ~ N(0, 1),         s2    in [0.01, 100]
//   log noise ~ N(log 1e-3, 2^2), noise in [1e-6, 2]
//   mean      ~ N(0, 1),         mean  in [-5, 5]
// Replicates: a row may stand for the mean of c_i measurements at one point;
// its noise is then noise / c_i (the mean is a sufficient statistic for f(x)
// under Gaussian noise), which keeps n at the number of distinct points.
// The factorization K + noise I = L L' adds jitter (1e-10 s2, growing 10x up
// to 1e-2 s2) when the plain Cholesky fails (duplicate points, tiny noise).
// Immutable after construction; thread-safe for concurrent reads.

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "autodistill/bo/kernel.hpp"

namespace autodistill::bo {

struct GpHypers {
  Eigen::VectorXd log_lengthscales;  // one per factor
  double log_signal_var = 0.0;
  double log_noise_var = -6.907755278982137;  // log 1e-3
  double mean = 0.0;                          // standardized units

  static GpHypers defaults(Eigen::Index dims);
  Eigen::VectorXd pack() const;
  static GpHypers unpack(const Eigen::VectorXd& theta);
};

struct GpFitOptions {
  int random_starts = 2;    // starts drawn from the prior, besides the default start
  int max_iterations = 60;  // L-BFGS-B iterations per start
  uint64_t seed = 0;        // for the random starts
};

// log p(y | theta) + log p(theta) for standardized y, and its gradient (when
// `grad` is not null). Returns -infinity when K cannot be factorized.
// `replicates`: c_i per row, or empty for all ones.
double gp_log_posterior(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                        const std::vector<char>& categorical, const Eigen::VectorXd& theta,
                        Eigen::VectorXd* grad,
                        const Eigen::VectorXd& replicates = Eigen::VectorXd());

class Gp {
 public:
  // Fits the hyper-parameters on (X, y) and conditions on the same data.
  // X: dims x n unit-encoded points; y: n finite raw values; n >= 1;
  // replicates: measurements behind each row (empty: one each).
  static Gp fit(Eigen::MatrixXd X, const Eigen::VectorXd& y, std::vector<char> categorical,
                const GpFitOptions& options, Eigen::VectorXd replicates = Eigen::VectorXd());
  // Conditions on (X, y) with given hyper-parameters (no fitting).
  static Gp with_hypers(Eigen::MatrixXd X, const Eigen::VectorXd& y, std::vector<char> categorical,
                        const GpHypers& hypers, Eigen::VectorXd replicates = Eigen::VectorXd());

  const GpHypers& hypers() const { return hypers_; }
  const Matern52& kernel() const { return kernel_; }
  double noise_var() const { return noise_var_; }
  double jitter() const { return jitter_; }
  double y_mean() const { return y_mean_; }
  double y_std() const { return y_std_; }
  const Eigen::MatrixXd& X() const { return X_; }
  Eigen::Index size() const { return X_.cols(); }
  // (K + noise I)^-1 (y - mean), standardized units.
  const Eigen::VectorXd& alpha() const { return alpha_; }

  // Posterior of the latent function at the columns of Xs, standardized units.
  void predict(const Eigen::MatrixXd& Xs, Eigen::VectorXd* mean, Eigen::VectorXd* var) const;
  // L^-1 K(X, Xs): the whitened cross-covariance used for variances and for
  // fantasy updates (candidate_posterior.hpp).
  Eigen::MatrixXd whiten(const Eigen::MatrixXd& Ks) const;

 private:
  void condition();

  Eigen::MatrixXd X_;
  Eigen::VectorXd y_;           // standardized
  Eigen::VectorXd inv_counts_;  // 1 / replicates per row
  GpHypers hypers_;
  Matern52 kernel_;
  double noise_var_ = 0.0;
  double jitter_ = 0.0;
  double y_mean_ = 0.0;
  double y_std_ = 1.0;
  Eigen::MatrixXd L_;      // lower Cholesky factor of K + (noise + jitter) I
  Eigen::VectorXd alpha_;  // (K + noise I)^-1 (y - mean)
};

}  // namespace autodistill::bo
