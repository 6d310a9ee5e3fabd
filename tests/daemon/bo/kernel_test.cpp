#include <catch2/catch.hpp>
#include <cmath>

#include "autodistill/bo/gp.hpp"
#include "autodistill/bo/kernel.hpp"
#include "autodistill/bo/rng.hpp"

using namespace autodistill::bo;

namespace {

Eigen::MatrixXd random_points(Rng& rng, Eigen::Index d, Eigen::Index n,
                              const std::vector<char>& cat) {
  Eigen::MatrixXd X(d, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index f = 0; f < d; ++f) {
      X(f, j) = cat[static_cast<size_t>(f)] ? (static_cast<double>(rng.below(3)) + 0.5) / 3.0
                                            : rng.uniform();
    }
  }
  return X;
}

}  // namespace

TEST_CASE("Matern 5/2 values", "[bo][kernel]") {
  const Matern52 k(Eigen::Vector2d(0.5, 2.0), 1.7, {0, 1});
  const double a[] = {0.1, 0.25}, b[] = {0.4, 0.25}, c[] = {0.1, 0.75};
  REQUIRE(k(a, a) == Approx(1.7));
  // r = 0.3 / 0.5 = 0.6 along the numeric factor
  const double r = 0.6;
  REQUIRE(k(a, b) == Approx(1.7 * (1 + std::sqrt(5.0) * r + 5.0 * r * r / 3.0) *
                            std::exp(-std::sqrt(5.0) * r)));
  // categorical factor: distance 1 when the categories differ, r = 1 / 2
  const double rc = 0.5;
  REQUIRE(k(a, c) == Approx(1.7 * (1 + std::sqrt(5.0) * rc + 5.0 * rc * rc / 3.0) *
                            std::exp(-std::sqrt(5.0) * rc)));
  REQUIRE(k(a, b) == Approx(k(b, a)));
}

TEST_CASE("kernel gradients agree with finite differences", "[bo][kernel]") {
  Rng rng(1);
  const std::vector<char> cat = {0, 0, 1};
  const Eigen::MatrixXd X = random_points(rng, 3, 7, cat);
  Eigen::MatrixXd W = Eigen::MatrixXd::Random(7, 7);
  W = (W + W.transpose()).eval();
  const Eigen::Vector3d log_l(std::log(0.3), std::log(0.8), std::log(1.2));
  const double log_s = std::log(1.3);
  auto contract = [&](const Eigen::Vector3d& ll, double ls) {
    return (W.array() * Matern52(ll.array().exp(), std::exp(ls), cat).gram(X).array()).sum();
  };
  const Matern52 k(log_l.array().exp(), std::exp(log_s), cat);
  Eigen::VectorXd d_ell;
  double d_signal = 0;
  k.contract_gradient(X, W, &d_ell, &d_signal);
  const double h = 1e-6;
  for (int f = 0; f < 3; ++f) {
    Eigen::Vector3d up = log_l, down = log_l;
    up[f] += h;
    down[f] -= h;
    REQUIRE(
        d_ell[f] ==
        Approx((contract(up, log_s) - contract(down, log_s)) / (2 * h)).epsilon(1e-5).margin(1e-7));
  }
  REQUIRE(
      d_signal ==
      Approx((contract(log_l, log_s + h) - contract(log_l, log_s - h)) / (2 * h)).epsilon(1e-6));
}

TEST_CASE("log marginal likelihood gradient agrees with finite differences", "[bo][gp]") {
  Rng rng(2);
  const std::vector<char> cat = {0, 1, 0};
  const Eigen::MatrixXd X = random_points(rng, 3, 15, cat);
  Eigen::VectorXd y(15);
  for (Eigen::Index i = 0; i < 15; ++i) y[i] = std::sin(4 * X(0, i)) + X(2, i) + 0.1 * rng.normal();
  y = (y.array() - y.mean()) / std::sqrt((y.array() - y.mean()).square().mean());
  for (int trial = 0; trial < 4; ++trial) {
    Eigen::VectorXd theta(6);
    theta << std::log(rng.uniform(0.2, 1.5)), std::log(rng.uniform(0.2, 1.5)),
        std::log(rng.uniform(0.2, 1.5)), std::log(rng.uniform(0.5, 2.0)),
        std::log(rng.uniform(1e-3, 0.2)), rng.uniform(-0.5, 0.5);
    Eigen::VectorXd grad;
    gp_log_posterior(X, y, cat, theta, &grad);
    for (Eigen::Index j = 0; j < theta.size(); ++j) {
      const double h = 1e-6;
      Eigen::VectorXd up = theta, down = theta;
      up[j] += h;
      down[j] -= h;
      const double fd =
          (gp_log_posterior(X, y, cat, up, nullptr) - gp_log_posterior(X, y, cat, down, nullptr)) /
          (2 * h);
      INFO("trial " << trial << " parameter " << j);
      REQUIRE(grad[j] == Approx(fd).epsilon(1e-4).margin(1e-5));
    }
  }
}
