#include "autodistill/bo/output_warp.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace autodistill::bo {
namespace {

constexpr double kLambdaLo = -2.0, kLambdaHi = 4.0;

double yeo_johnson(double y, double l) {
  if (y >= 0) return std::abs(l) < 1e-12 ? std::log1p(y) : (std::pow(y + 1.0, l) - 1.0) / l;
  return std::abs(l - 2.0) < 1e-12 ? -std::log1p(-y)
                                   : -(std::pow(1.0 - y, 2.0 - l) - 1.0) / (2.0 - l);
}

// Profile log-likelihood of a normal model of psi(y; l), up to a constant.
double log_likelihood(const std::vector<double>& y, double l) {
  const auto n = static_cast<double>(y.size());
  double mean = 0.0;
  for (double v : y) mean += yeo_johnson(v, l);
  mean /= n;
  double var = 0.0, jacobian = 0.0;
  for (double v : y) {
    const double t = yeo_johnson(v, l) - mean;
    var += t * t;
    jacobian += (v >= 0 ? 1.0 : -1.0) * std::log1p(std::abs(v));
  }
  var /= n;
  if (!(var > 0) || !std::isfinite(var)) return -INFINITY;
  return -0.5 * n * std::log(var) + (l - 1.0) * jacobian;
}

}  // namespace

OutputWarp OutputWarp::fit(const std::vector<double>& values) {
  OutputWarp w;
  if (std::set<double>(values.begin(), values.end()).size() < 3) return w;
  const auto n = static_cast<double>(values.size());
  double mean = 0.0;
  for (double v : values) mean += v;
  mean /= n;
  double var = 0.0;
  for (double v : values) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / n);
  if (!(sd > 1e-12 * std::max(1.0, std::abs(mean)))) return w;
  std::vector<double> y;
  y.reserve(values.size());
  for (double v : values) y.push_back((v - mean) / sd);
  // A coarse grid, then golden-section search around its best point.
  double best_l = 1.0, best = log_likelihood(y, 1.0);
  for (int k = 0; k <= 24; ++k) {
    const double l = kLambdaLo + (kLambdaHi - kLambdaLo) * k / 24.0;
    const double v = log_likelihood(y, l);
    if (v > best) {
      best = v;
      best_l = l;
    }
  }
  const double step = (kLambdaHi - kLambdaLo) / 24.0;
  double a = std::max(kLambdaLo, best_l - step), b = std::min(kLambdaHi, best_l + step);
  const double phi = (std::sqrt(5.0) - 1.0) / 2.0;
  for (int it = 0; it < 30; ++it) {
    const double c = b - phi * (b - a), d = a + phi * (b - a);
    if (log_likelihood(y, c) >= log_likelihood(y, d)) {
      b = d;
    } else {
      a = c;
    }
  }
  const double l = 0.5 * (a + b);
  if (log_likelihood(y, l) > best) best_l = l;
  w.identity_ = false;
  w.mean_ = mean;
  w.sd_ = sd;
  w.lambda_ = best_l;
  return w;
}

double OutputWarp::operator()(double y) const {
  if (identity_) return y;
  return yeo_johnson((y - mean_) / sd_, lambda_);
}

}  // namespace autodistill::bo
