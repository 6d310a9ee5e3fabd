#include "autodistill/bo/kernel.hpp"

#include <cmath>

namespace autodistill::bo {
namespace {
constexpr double kSqrt5 = 2.23606797749978969640;

// Symmetrizes a square matrix from its lower triangle, with `diagonal` on
// the diagonal (vectorized element functions may round an element and its
// mirror image differently).
void symmetrize(Eigen::MatrixXd& K, double diagonal) {
  K.triangularView<Eigen::StrictlyUpper>() = K.transpose();
  K.diagonal().setConstant(diagonal);
}

// Adds w * d_f(a_i, b_j) for one factor f to every element of R2, column by
// column: (a_i - b_j)^2 for a numeric factor, [a_i != b_j] for a categorical one.
void add_factor(const Eigen::ArrayXd& a, const Eigen::RowVectorXd& b, bool categorical, double w,
                Eigen::MatrixXd& R2) {
  for (Eigen::Index j = 0; j < b.size(); ++j) {
    const double bj = b[j];
    if (categorical) {
      R2.col(j).array() += (a == bj).select(0.0, Eigen::ArrayXd::Constant(a.size(), w));
    } else {
      R2.col(j).array() += w * (a - bj).square();
    }
  }
}

}  // namespace

Matern52::Matern52(Eigen::VectorXd lengthscales, double signal_var, std::vector<char> categorical)
    : lengthscales_(std::move(lengthscales)),
      inv_l2_(lengthscales_.array().square().inverse()),
      signal_var_(signal_var),
      categorical_(std::move(categorical)) {}

double Matern52::r2(const double* a, const double* b) const {
  double s = 0.0;
  const Eigen::Index d = lengthscales_.size();
  for (Eigen::Index f = 0; f < d; ++f) {
    double df;
    if (categorical_[static_cast<size_t>(f)]) {
      df = a[f] == b[f] ? 0.0 : 1.0;
    } else {
      const double t = a[f] - b[f];
      df = t * t;
    }
    s += df * inv_l2_[f];
  }
  return s;
}

double Matern52::operator()(const double* a, const double* b) const {
  const double r = std::sqrt(r2(a, b));
  return signal_var_ * (1.0 + kSqrt5 * r + (5.0 / 3.0) * r * r) * std::exp(-kSqrt5 * r);
}

Eigen::MatrixXd Matern52::squared_distances(const Eigen::MatrixXd& A,
                                            const Eigen::MatrixXd& B) const {
  Eigen::MatrixXd R2 = Eigen::MatrixXd::Zero(A.cols(), B.cols());
  for (Eigen::Index f = 0; f < A.rows(); ++f) {
    const Eigen::ArrayXd a = A.row(f).transpose();
    add_factor(a, B.row(f), categorical_[static_cast<size_t>(f)] != 0, inv_l2_[f], R2);
  }
  return R2;
}

Eigen::MatrixXd Matern52::from_r2(const Eigen::MatrixXd& R2) const {
  const Eigen::ArrayXXd r = R2.array().sqrt();
  return (signal_var_ * (1.0 + kSqrt5 * r + (5.0 / 3.0) * R2.array()) * (-kSqrt5 * r).exp())
      .matrix();
}

Eigen::MatrixXd Matern52::matrix(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B) const {
  return from_r2(squared_distances(A, B));
}

Eigen::MatrixXd Matern52::gram(const Eigen::MatrixXd& X) const {
  Eigen::MatrixXd K = matrix(X, X);
  symmetrize(K, signal_var_);
  return K;
}

Matern52::Distances::Distances(const Eigen::MatrixXd& X, const std::vector<char>& categorical)
    : n_(X.cols()) {
  for (Eigen::Index f = 0; f < X.rows(); ++f) {
    Eigen::MatrixXd D = Eigen::MatrixXd::Zero(n_, n_);
    const Eigen::ArrayXd a = X.row(f).transpose();
    add_factor(a, X.row(f), categorical[static_cast<size_t>(f)] != 0, 1.0, D);
    d_.push_back(std::move(D));
  }
}

Eigen::MatrixXd Matern52::gram(const Distances& D) const {
  Eigen::MatrixXd R2 = Eigen::MatrixXd::Zero(D.n_, D.n_);
  for (size_t f = 0; f < D.d_.size(); ++f)
    R2.noalias() += inv_l2_[static_cast<Eigen::Index>(f)] * D.d_[f];
  Eigen::MatrixXd K = from_r2(R2);
  symmetrize(K, signal_var_);
  return K;
}

void Matern52::contract_gradient(const Distances& D, const Eigen::MatrixXd& W,
                                 Eigen::VectorXd* d_ell, double* d_signal) const {
  const Eigen::Index n = D.n_;
  Eigen::MatrixXd R2 = Eigen::MatrixXd::Zero(n, n);
  for (size_t f = 0; f < D.d_.size(); ++f)
    R2.noalias() += inv_l2_[static_cast<Eigen::Index>(f)] * D.d_[f];
  const Eigen::ArrayXXd r = R2.array().sqrt();
  const Eigen::ArrayXXd e = (-kSqrt5 * r).exp();
  // dk/dlog s2 = k; dk/dlog l_f = s2 (5/3)(1 + sqrt5 r) e d_f / l_f^2.
  *d_signal = (W.array() * signal_var_ * (1.0 + kSqrt5 * r + (5.0 / 3.0) * R2.array()) * e).sum();
  const Eigen::ArrayXXd G = W.array() * (signal_var_ * (5.0 / 3.0)) * (1.0 + kSqrt5 * r) * e;
  d_ell->resize(static_cast<Eigen::Index>(D.d_.size()));
  for (size_t f = 0; f < D.d_.size(); ++f) {
    const auto fi = static_cast<Eigen::Index>(f);
    (*d_ell)[fi] = (G * D.d_[f].array()).sum() * inv_l2_[fi];
  }
}

void Matern52::contract_gradient(const Eigen::MatrixXd& X, const Eigen::MatrixXd& W,
                                 Eigen::VectorXd* d_ell, double* d_signal) const {
  contract_gradient(Distances(X, categorical_), W, d_ell, d_signal);
}

}  // namespace autodistill::bo
