#include "autodistill/bo/gp.hpp"

#include <LBFGSB.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>

#include "autodistill/bo/rng.hpp"

namespace autodistill::bo {
namespace {

// Prior means / standard deviations and L-BFGS-B boxes (see gp.hpp).
const double kEllMu = std::log(0.5), kEllSd = 1.0;
const double kEllLo = std::log(0.01), kEllHi = std::log(20.0);
const double kSigMu = 0.0, kSigSd = 1.0;
const double kSigLo = std::log(0.01), kSigHi = std::log(100.0);
const double kNoiseMu = std::log(1e-3), kNoiseSd = 2.0;
const double kNoiseLo = std::log(1e-6), kNoiseHi = std::log(2.0);
const double kMeanMu = 0.0, kMeanSd = 1.0;
const double kMeanLo = -5.0, kMeanHi = 5.0;

// Factorizes K (noise already on the diagonal), adding jitter when needed.
bool factorize(Eigen::MatrixXd& K, double signal_var, Eigen::LLT<Eigen::MatrixXd>* llt,
               double* jitter) {
  *jitter = 0.0;
  llt->compute(K);
  if (llt->info() == Eigen::Success) return true;
  for (double j = 1e-10 * signal_var; j <= 1.0001 * signal_var; j *= 10.0) {
    K.diagonal().array() += j - *jitter;
    *jitter = j;
    llt->compute(K);
    if (llt->info() == Eigen::Success) return true;
  }
  return false;
}

double log_normal_term(double x, double mu, double sd, double* dx) {
  const double z = (x - mu) / sd;
  *dx = -z / sd;
  return -0.5 * z * z;
}

double log_posterior(const Matern52::Distances& D, const Eigen::VectorXd& y,
                     const std::vector<char>& categorical, const Eigen::VectorXd& theta,
                     Eigen::VectorXd* grad, const Eigen::VectorXd& replicates);

struct Objective {
  const Matern52::Distances& D;
  const Eigen::VectorXd& y;
  const std::vector<char>& categorical;
  const Eigen::VectorXd& replicates;
  double best = std::numeric_limits<double>::infinity();
  Eigen::VectorXd best_theta;

  double operator()(const Eigen::VectorXd& theta, Eigen::VectorXd& grad) {
    Eigen::VectorXd g;
    const double v = log_posterior(D, y, categorical, theta, &g, replicates);
    if (!std::isfinite(v)) {
      grad.setZero(theta.size());
      return std::numeric_limits<double>::max();
    }
    grad = -g;
    if (-v < best) {
      best = -v;
      best_theta = theta;
    }
    return -v;
  }
};

}  // namespace

GpHypers GpHypers::defaults(Eigen::Index dims) {
  GpHypers h;
  h.log_lengthscales = Eigen::VectorXd::Constant(dims, kEllMu);
  return h;
}

Eigen::VectorXd GpHypers::pack() const {
  const Eigen::Index d = log_lengthscales.size();
  Eigen::VectorXd t(d + 3);
  t.head(d) = log_lengthscales;
  t[d] = log_signal_var;
  t[d + 1] = log_noise_var;
  t[d + 2] = mean;
  return t;
}

GpHypers GpHypers::unpack(const Eigen::VectorXd& theta) {
  const Eigen::Index d = theta.size() - 3;
  GpHypers h;
  h.log_lengthscales = theta.head(d);
  h.log_signal_var = theta[d];
  h.log_noise_var = theta[d + 1];
  h.mean = theta[d + 2];
  return h;
}

double gp_log_posterior(const Eigen::MatrixXd& X, const Eigen::VectorXd& y,
                        const std::vector<char>& categorical, const Eigen::VectorXd& theta,
                        Eigen::VectorXd* grad, const Eigen::VectorXd& replicates) {
  return log_posterior(Matern52::Distances(X, categorical), y, categorical, theta, grad,
                       replicates);
}

namespace {

double log_posterior(const Matern52::Distances& D, const Eigen::VectorXd& y,
                     const std::vector<char>& categorical, const Eigen::VectorXd& theta,
                     Eigen::VectorXd* grad, const Eigen::VectorXd& replicates) {
  const auto d = static_cast<Eigen::Index>(categorical.size());
  const Eigen::Index n = D.size();
  const GpHypers h = GpHypers::unpack(theta);
  const double signal = std::exp(h.log_signal_var);
  const double noise = std::exp(h.log_noise_var);
  const Matern52 kernel(h.log_lengthscales.array().exp(), signal, categorical);
  const Eigen::VectorXd inv_counts =
      replicates.size() == n ? replicates.cwiseInverse().eval() : Eigen::VectorXd::Ones(n).eval();
  Eigen::MatrixXd K = kernel.gram(D);
  K.diagonal() += noise * inv_counts;
  Eigen::LLT<Eigen::MatrixXd> llt;
  double jitter = 0.0;
  if (!factorize(K, signal, &llt, &jitter)) return -std::numeric_limits<double>::infinity();
  const Eigen::VectorXd r = y.array() - h.mean;
  const Eigen::VectorXd alpha = llt.solve(r);
  const double log_det_half = llt.matrixLLT().diagonal().array().log().sum();
  double value = -0.5 * r.dot(alpha) - log_det_half -
                 0.5 * static_cast<double>(n) * std::log(2.0 * std::numbers::pi);

  Eigen::VectorXd prior_grad(d + 3);
  for (Eigen::Index f = 0; f < d; ++f)
    value += log_normal_term(h.log_lengthscales[f], kEllMu, kEllSd, &prior_grad[f]);
  value += log_normal_term(h.log_signal_var, kSigMu, kSigSd, &prior_grad[d]);
  value += log_normal_term(h.log_noise_var, kNoiseMu, kNoiseSd, &prior_grad[d + 1]);
  value += log_normal_term(h.mean, kMeanMu, kMeanSd, &prior_grad[d + 2]);
  if (grad == nullptr) return value;

  Eigen::MatrixXd W = alpha * alpha.transpose();
  W -= llt.solve(Eigen::MatrixXd::Identity(n, n));
  Eigen::VectorXd d_ell;
  double d_signal = 0.0;
  kernel.contract_gradient(D, W, &d_ell, &d_signal);
  grad->resize(d + 3);
  grad->head(d) = 0.5 * d_ell;
  (*grad)[d] = 0.5 * d_signal;
  (*grad)[d + 1] = 0.5 * noise * W.diagonal().dot(inv_counts);
  (*grad)[d + 2] = alpha.sum();
  *grad += prior_grad;
  return value;
}

}  // namespace

Gp Gp::with_hypers(Eigen::MatrixXd X, const Eigen::VectorXd& y, std::vector<char> categorical,
                   const GpHypers& hypers, Eigen::VectorXd replicates) {
  Gp gp;
  gp.X_ = std::move(X);
  gp.inv_counts_ = replicates.size() == y.size() ? replicates.cwiseInverse().eval()
                                                 : Eigen::VectorXd::Ones(y.size()).eval();
  const double n = static_cast<double>(y.size());
  gp.y_mean_ = y.mean();
  const double var = n > 1 ? (y.array() - gp.y_mean_).square().sum() / n : 0.0;
  const double sd = std::sqrt(var);
  gp.y_std_ = sd > 1e-12 * std::max(1.0, std::abs(gp.y_mean_)) ? sd : 1.0;
  gp.y_ = (y.array() - gp.y_mean_) / gp.y_std_;
  gp.hypers_ = hypers;
  gp.kernel_ = Matern52(hypers.log_lengthscales.array().exp(), std::exp(hypers.log_signal_var),
                        std::move(categorical));
  gp.condition();
  return gp;
}

Gp Gp::fit(Eigen::MatrixXd X, const Eigen::VectorXd& y, std::vector<char> categorical,
           const GpFitOptions& options, Eigen::VectorXd replicates) {
  const Eigen::Index d = X.rows();
  Gp gp = with_hypers(std::move(X), y, categorical, GpHypers::defaults(d), replicates);
  const Eigen::VectorXd counts = gp.inv_counts_.cwiseInverse();
  Eigen::VectorXd lb(d + 3), ub(d + 3);
  lb.head(d).setConstant(kEllLo);
  ub.head(d).setConstant(kEllHi);
  lb[d] = kSigLo;
  ub[d] = kSigHi;
  lb[d + 1] = kNoiseLo;
  ub[d + 1] = kNoiseHi;
  lb[d + 2] = kMeanLo;
  ub[d + 2] = kMeanHi;

  LBFGSpp::LBFGSBParam<double> param;
  param.max_iterations = options.max_iterations;
  param.epsilon = 1e-5;
  param.epsilon_rel = 1e-5;
  param.past = 1;
  param.delta = 1e-7;
  LBFGSpp::LBFGSBSolver<double> solver(param);

  const Matern52::Distances distances(gp.X_, categorical);
  Objective objective{
      distances,        gp.y_, categorical, counts, std::numeric_limits<double>::infinity(),
      Eigen::VectorXd()};
  Rng rng(options.seed);
  for (int start = 0; start <= options.random_starts; ++start) {
    Eigen::VectorXd theta = GpHypers::defaults(d).pack();
    if (start > 0) {
      for (Eigen::Index f = 0; f < d; ++f) theta[f] = kEllMu + kEllSd * rng.normal();
      theta[d] = kSigMu + kSigSd * rng.normal();
      theta[d + 1] = kNoiseMu + kNoiseSd * rng.normal();
      theta[d + 2] = kMeanMu + kMeanSd * rng.normal();
    }
    theta = theta.cwiseMax(lb).cwiseMin(ub);
    double fx = 0.0;
    try {
      solver.minimize(objective, theta, fx, lb, ub);
    } catch (const std::exception&) {
      // A failed line search ends this start; the best point seen is kept.
    }
  }
  if (objective.best_theta.size() == d + 3) {
    gp.hypers_ = GpHypers::unpack(objective.best_theta);
    gp.kernel_ = Matern52(gp.hypers_.log_lengthscales.array().exp(),
                          std::exp(gp.hypers_.log_signal_var), std::move(categorical));
    gp.condition();
  }
  return gp;
}

void Gp::condition() {
  noise_var_ = std::exp(hypers_.log_noise_var);
  Eigen::MatrixXd K = kernel_.gram(X_);
  K.diagonal() += noise_var_ * inv_counts_;
  Eigen::LLT<Eigen::MatrixXd> llt;
  if (!factorize(K, kernel_.signal_var(), &llt, &jitter_)) {
    // Only non-finite inputs get here (jitter up to s2 makes K diagonally
    // dominant); fall back to an uninformative model rather than crash.
    K = Eigen::MatrixXd::Identity(X_.cols(), X_.cols()) * (kernel_.signal_var() + noise_var_);
    llt.compute(K);
    jitter_ = kernel_.signal_var();
  }
  L_ = llt.matrixL();
  alpha_ = llt.solve((y_.array() - hypers_.mean).matrix());
}

Eigen::MatrixXd Gp::whiten(const Eigen::MatrixXd& Ks) const {
  return L_.triangularView<Eigen::Lower>().solve(Ks);
}

void Gp::predict(const Eigen::MatrixXd& Xs, Eigen::VectorXd* mean, Eigen::VectorXd* var) const {
  const Eigen::MatrixXd Ks = kernel_.matrix(X_, Xs);
  *mean = (Ks.transpose() * alpha_).array() + hypers_.mean;
  if (var != nullptr) {
    const Eigen::MatrixXd V = whiten(Ks);
    *var = (kernel_.signal_var() - V.colwise().squaredNorm().transpose().array()).cwiseMax(0.0);
  }
}

}  // namespace autodistill::bo
