#include "autodistill/bo/kernel.hpp"

#include <cmath>

namespace autodistill::bo {
namespace {
constexpr double kSqrt5 = 2.23606797749978969640;
}

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

Eigen::MatrixXd Matern52::matrix(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B) const {
  Eigen::MatrixXd K(A.cols(), B.cols());
  for (Eigen::Index j = 0; j < B.cols(); ++j) {
    const double* b = B.col(j).data();
    for (Eigen::Index i = 0; i < A.cols(); ++i) K(i, j) = (*this)(A.col(i).data(), b);
  }
  return K;
}

Eigen::MatrixXd Matern52::gram(const Eigen::MatrixXd& X) const {
  const Eigen::Index n = X.cols();
  Eigen::MatrixXd K(n, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    K(j, j) = signal_var_;
    for (Eigen::Index i = j + 1; i < n; ++i) {
      const double v = (*this)(X.col(i).data(), X.col(j).data());
      K(i, j) = v;
      K(j, i) = v;
    }
  }
  return K;
}

void Matern52::contract_gradient(const Eigen::MatrixXd& X, const Eigen::MatrixXd& W,
                                 Eigen::VectorXd* d_ell, double* d_signal) const {
  const Eigen::Index n = X.cols();
  const Eigen::Index d = X.rows();
  d_ell->setZero(d);
  double sig = 0.0;
  for (Eigen::Index j = 0; j < n; ++j) {
    const double* b = X.col(j).data();
    sig += W(j, j) * signal_var_;
    for (Eigen::Index i = j + 1; i < n; ++i) {
      const double* a = X.col(i).data();
      const double w = W(i, j) + W(j, i);
      const double r = std::sqrt(r2(a, b));
      const double e = std::exp(-kSqrt5 * r);
      sig += w * signal_var_ * (1.0 + kSqrt5 * r + (5.0 / 3.0) * r * r) * e;
      const double g = w * signal_var_ * (5.0 / 3.0) * (1.0 + kSqrt5 * r) * e;
      for (Eigen::Index f = 0; f < d; ++f) {
        double df;
        if (categorical_[static_cast<size_t>(f)]) {
          df = a[f] == b[f] ? 0.0 : 1.0;
        } else {
          const double t = a[f] - b[f];
          df = t * t;
        }
        (*d_ell)[f] += g * df * inv_l2_[f];
      }
    }
  }
  *d_signal = sig;
}

}  // namespace autodistill::bo
