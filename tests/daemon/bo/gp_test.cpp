#include <catch2/catch.hpp>
#include <cmath>

#include "autodistill/bo/candidate_posterior.hpp"
#include "autodistill/bo/gp.hpp"
#include "autodistill/bo/rng.hpp"

using namespace autodistill::bo;

TEST_CASE("GP posterior matches a hand computation", "[bo][gp]") {
  // Two observations at x = 0 and x = 1 (y = 1, 3: standardized to -1, +1),
  // lengthscale 1, s2 = 1, noise 0.01, mean 0; predict at x = 0.5.
  Eigen::MatrixXd X(1, 2);
  X << 0.0, 1.0;
  Eigen::VectorXd y(2);
  y << 1.0, 3.0;
  GpHypers h;
  h.log_lengthscales = Eigen::VectorXd::Zero(1);
  h.log_signal_var = 0.0;
  h.log_noise_var = std::log(0.01);
  h.mean = 0.0;
  const Gp gp = Gp::with_hypers(X, y, {0}, h);
  REQUIRE(gp.y_mean() == Approx(2.0));
  REQUIRE(gp.y_std() == Approx(1.0));
  auto matern = [](double r) {
    return (1 + std::sqrt(5.0) * r + 5.0 * r * r / 3.0) * std::exp(-std::sqrt(5.0) * r);
  };
  const double k01 = matern(1.0), ks = matern(0.5);
  // K = [[1.01, k01], [k01, 1.01]]; k* = [ks, ks]; y = [-1, 1]
  const double det = 1.01 * 1.01 - k01 * k01;
  const double a0 = (1.01 * -1.0 - k01 * 1.0) / det, a1 = (-k01 * -1.0 + 1.01 * 1.0) / det;
  const double expected_mean = ks * a0 + ks * a1;  // 0 by symmetry
  const double quad = ks * ks * (1.01 + 1.01 - 2 * k01) / det;
  Eigen::MatrixXd Xs(1, 2);
  Xs << 0.5, 0.25;
  Eigen::VectorXd mean, var;
  gp.predict(Xs, &mean, &var);
  REQUIRE(mean[0] == Approx(expected_mean).margin(1e-12));
  REQUIRE(var[0] == Approx(1.0 - quad));
  // Off-centre: the posterior mean leans to the nearer observation.
  REQUIRE(mean[1] < 0.0);
}

TEST_CASE("GP fits a known 1-D function", "[bo][gp]") {
  const int n = 14;
  Eigen::MatrixXd X(1, n);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    X(0, i) = (i + 0.5) / n;
    y[i] = 3.0 + 2.0 * std::sin(6.0 * X(0, i));
  }
  GpFitOptions options;
  options.seed = 4;
  const Gp gp = Gp::fit(X, y, {0}, options);
  // The fit improves the log posterior over the default hyper-parameters.
  Eigen::VectorXd ys = (y.array() - gp.y_mean()) / gp.y_std();
  REQUIRE(gp_log_posterior(X, ys, {0}, gp.hypers().pack(), nullptr) >
          gp_log_posterior(X, ys, {0}, GpHypers::defaults(1).pack(), nullptr) + 1.0);
  Eigen::MatrixXd Xs(1, 101);
  for (int i = 0; i <= 100; ++i) Xs(0, i) = 0.05 + 0.9 * i / 100.0;
  Eigen::VectorXd mean, var;
  gp.predict(Xs, &mean, &var);
  double worst = 0.0;
  for (int i = 0; i <= 100; ++i) {
    const double truth = 3.0 + 2.0 * std::sin(6.0 * Xs(0, i));
    worst = std::max(worst, std::abs(gp.y_mean() + gp.y_std() * mean[i] - truth));
  }
  REQUIRE(worst < 0.05);
  REQUIRE(gp.noise_var() < 1e-2);
}

TEST_CASE("duplicate points and constant outputs factorize without failure", "[bo][gp]") {
  Eigen::MatrixXd X(2, 6);
  X << 0.1, 0.1, 0.1, 0.5, 0.5, 0.9, 0.2, 0.2, 0.2, 0.3, 0.3, 0.8;
  Eigen::VectorXd y = Eigen::VectorXd::Constant(6, 4.2);
  GpHypers h = GpHypers::defaults(2);
  h.log_noise_var = std::log(1e-9);
  h.log_signal_var = std::log(100.0);
  const Gp gp = Gp::with_hypers(X, y, {0, 0}, h);
  Eigen::VectorXd mean, var;
  gp.predict(X, &mean, &var);
  REQUIRE(mean.allFinite());
  REQUIRE(var.allFinite());
  REQUIRE(gp.y_std() == 1.0);  // constant outputs: no scaling
  const Gp fitted = Gp::fit(X, y, {0, 0}, GpFitOptions{});
  fitted.predict(X, &mean, &var);
  REQUIRE(mean.allFinite());
}

TEST_CASE("kriging-believer fantasies equal conditioning on the mean", "[bo][gp]") {
  Rng rng(8);
  const Eigen::Index n = 10, m = 25;
  Eigen::MatrixXd X = Eigen::MatrixXd::NullaryExpr(2, n, [&]() { return rng.uniform(); });
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) y[i] = std::cos(3 * X(0, i)) * X(1, i);
  Eigen::MatrixXd C = Eigen::MatrixXd::NullaryExpr(2, m, [&]() { return rng.uniform(); });
  GpHypers h = GpHypers::defaults(2);
  h.log_noise_var = std::log(1e-2);
  const Gp gp = Gp::with_hypers(X, y, {0, 0}, h);
  CandidatePosterior post(gp, C);
  const Eigen::VectorXd mean_before = post.mean();
  post.add_fantasy(3);
  post.add_fantasy(17);

  // Reference: latent posterior variance given X plus the two candidates as
  // noisy observations, computed directly.
  Eigen::MatrixXd Xa(2, n + 2);
  Xa << X, C.col(3), C.col(17);
  Eigen::MatrixXd K = gp.kernel().gram(Xa);
  K.diagonal().array() += gp.noise_var();
  const Eigen::MatrixXd Ks = gp.kernel().matrix(Xa, C);
  const Eigen::VectorXd expected_var =
      gp.kernel().signal_var() -
      (Ks.array() * K.llt().solve(Ks).array()).colwise().sum().transpose();
  for (Eigen::Index i = 0; i < m; ++i)
    REQUIRE(post.var()[i] == Approx(expected_var[i]).margin(1e-9));
  REQUIRE((post.mean() - mean_before).norm() == 0.0);
  REQUIRE(post.var()[3] < 0.02);
}

TEST_CASE("a replicated row equals the repeated measurements it stands for", "[bo][gp]") {
  // Rows: x1 measured twice (1.0 and 2.0), x2 once (4.0). The aggregated GP
  // holds x1 once with value 1.5 and 2 replicates.
  Eigen::MatrixXd Xa(1, 2);
  Xa << 0.2, 0.7;
  Eigen::VectorXd ya(2);
  ya << 1.5, 4.0;
  GpHypers h = GpHypers::defaults(1);
  h.log_noise_var = std::log(0.05);
  h.mean = 0.3;
  const Gp gp = Gp::with_hypers(Xa, ya, {0}, h, Eigen::Vector2d(2.0, 1.0));

  // Reference: the three raw rows, in the aggregated GP's standardized units.
  Eigen::MatrixXd X(1, 3);
  X << 0.2, 0.2, 0.7;
  Eigen::VectorXd y(3);
  y << 1.0, 2.0, 4.0;
  y = (y.array() - gp.y_mean()) / gp.y_std();
  Eigen::MatrixXd K = gp.kernel().gram(X);
  K.diagonal().array() += gp.noise_var();
  Eigen::MatrixXd Xs(1, 3);
  Xs << 0.0, 0.45, 0.9;
  const Eigen::MatrixXd Ks = gp.kernel().matrix(X, Xs);
  const Eigen::VectorXd expected_mean =
      (Ks.transpose() * K.llt().solve((y.array() - h.mean).matrix())).array() + h.mean;
  const Eigen::VectorXd expected_var =
      gp.kernel().signal_var() -
      (Ks.array() * K.llt().solve(Ks).array()).colwise().sum().transpose();
  Eigen::VectorXd mean, var;
  gp.predict(Xs, &mean, &var);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(mean[i] == Approx(expected_mean[i]).margin(1e-10));
    REQUIRE(var[i] == Approx(expected_var[i]).margin(1e-10));
  }
}
