#pragma once
// Matern-5/2 kernel with automatic relevance determination (one lengthscale
// per factor) over unit-encoded points (space.hpp). Points are the COLUMNS of
// the matrices passed in (dims x count). Rasmussen & Williams (2006), eq. 4.17:
//
//   r^2     = sum_f d_f(x, x') / l_f^2
//   d_f     = (x_f - x'_f)^2          numeric factor
//           = [x_f != x'_f]           categorical factor (one-hot equivalent)
//   k(x,x') = s2 * (1 + sqrt(5) r + 5 r^2 / 3) * exp(-sqrt(5) r)
//
// Derivatives used for the marginal-likelihood gradient:
//   dk / dlog s2  = k
//   dk / dlog l_f = s2 * (5/3) * (1 + sqrt(5) r) * exp(-sqrt(5) r) * d_f / l_f^2
// Immutable value type; thread-safe for concurrent reads.

#include <Eigen/Core>
#include <vector>

namespace autodistill::bo {

class Matern52 {
 public:
  Matern52() = default;
  // lengthscales.size() == categorical.size() == dims; signal_var > 0.
  Matern52(Eigen::VectorXd lengthscales, double signal_var, std::vector<char> categorical);

  double signal_var() const { return signal_var_; }

  // k(a, b) for two points of `dims` coordinates.
  double operator()(const double* a, const double* b) const;
  // K(A, B): A.cols() x B.cols().
  Eigen::MatrixXd matrix(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B) const;
  // Symmetric K(X, X).
  Eigen::MatrixXd gram(const Eigen::MatrixXd& X) const;

  // Contracts the kernel derivatives of K(X, X) with a symmetric weight
  // matrix W: d_ell[f] = sum_ab W_ab dK_ab/dlog l_f and
  // d_signal = sum_ab W_ab dK_ab/dlog s2. O(n^2 dims).
  void contract_gradient(const Eigen::MatrixXd& X, const Eigen::MatrixXd& W, Eigen::VectorXd* d_ell,
                         double* d_signal) const;

  // The same for data whose per-factor distances were computed once
  // (hyper-parameter fitting evaluates many kernels on one X).
  class Distances {
   public:
    Distances(const Eigen::MatrixXd& X, const std::vector<char>& categorical);
    Eigen::Index size() const { return n_; }

   private:
    friend class Matern52;
    Eigen::Index n_ = 0;
    std::vector<Eigen::MatrixXd> d_;  // per factor: d_f(x_a, x_b), n x n
  };
  Eigen::MatrixXd gram(const Distances& D) const;
  void contract_gradient(const Distances& D, const Eigen::MatrixXd& W, Eigen::VectorXd* d_ell,
                         double* d_signal) const;

 private:
  double r2(const double* a, const double* b) const;
  // sum_f d_f(A_a, B_b) / l_f^2 for every pair (A.cols() x B.cols()).
  Eigen::MatrixXd squared_distances(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B) const;
  // k from r^2, element-wise.
  Eigen::MatrixXd from_r2(const Eigen::MatrixXd& R2) const;

  Eigen::VectorXd lengthscales_;
  Eigen::VectorXd inv_l2_;  // 1 / l_f^2
  double signal_var_ = 1.0;
  std::vector<char> categorical_;
};

}  // namespace autodistill::bo
