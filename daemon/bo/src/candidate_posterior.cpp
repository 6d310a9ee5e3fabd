#include "autodistill/bo/candidate_posterior.hpp"

#include <cmath>

namespace autodistill::bo {

CandidatePosterior::CandidatePosterior(const Gp& gp, Eigen::MatrixXd C)
    : gp_(&gp), C_(std::move(C)) {
  const Eigen::MatrixXd Ks = gp.kernel().matrix(gp.X(), C_);
  mean_ = (Ks.transpose() * gp.alpha()).array() + gp.hypers().mean;
  V_ = gp.whiten(Ks);
  var_ = (gp.kernel().signal_var() - V_.colwise().squaredNorm().transpose().array()).cwiseMax(0.0);
}

void CandidatePosterior::add_fantasy(Eigen::Index i) {
  const Eigen::Index m = C_.cols();
  Eigen::VectorXd c(m);
  const double* p = C_.col(i).data();
  for (Eigen::Index k = 0; k < m; ++k) c[k] = gp_->kernel()(C_.col(k).data(), p);
  c.noalias() -= V_.transpose() * V_.col(i);
  if (fantasies_ > 0)
    c.noalias() -= U_.leftCols(fantasies_) * U_.row(i).head(fantasies_).transpose();
  const double s = std::max(var_[i], 0.0) + gp_->noise_var() + gp_->jitter();
  const Eigen::VectorXd u = c / std::sqrt(s);
  if (U_.cols() <= fantasies_) U_.conservativeResize(m, std::max<Eigen::Index>(8, 2 * U_.cols()));
  U_.col(fantasies_++) = u;
  var_ = (var_.array() - u.array().square()).cwiseMax(0.0);
}

}  // namespace autodistill::bo
