#include "autodistill/bo/ehvi.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "autodistill/bo/rng.hpp"

namespace autodistill::bo {
namespace {

double norm_pdf(double z) {
  return std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
}
double norm_cdf(double z) {
  return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

// E[(c - Y)^+] for Y ~ N(mu, sd^2).
double lower_partial(double c, double mu, double sd) {
  if (sd <= 0.0) return std::max(c - mu, 0.0);
  const double z = (c - mu) / sd;
  return (c - mu) * norm_cdf(z) + sd * norm_pdf(z);
}

double scalarize(const double* y, const double* w, const Objectives& ref, size_t k) {
  double s = std::numeric_limits<double>::infinity();
  for (size_t j = 0; j < k; ++j) s = std::min(s, std::max(0.0, y[j] - ref[j]) / w[j]);
  double power = 1.0;  // s^k by multiplication: k is small and pow() is slow here
  for (size_t j = 0; j < k; ++j) power *= s;
  return power;
}

}  // namespace

ExpectedHvi::ExpectedHvi(std::vector<Objectives> front, Objectives ref,
                         const ScalarizationOptions& options)
    : front_(std::move(front)), ref_(std::move(ref)), k_(ref_.size()) {
  if (k_ >= 3) {
    weights_ = options.weights;
    samples_ = options.samples;
    Rng rng(options.seed);
    w_.resize(static_cast<size_t>(weights_) * k_);
    for (int i = 0; i < weights_; ++i) {
      double norm = 0.0;
      double* w = &w_[static_cast<size_t>(i) * k_];
      for (size_t j = 0; j < k_; ++j) {
        w[j] = std::abs(rng.normal()) + 1e-12;
        norm += w[j] * w[j];
      }
      for (size_t j = 0; j < k_; ++j) w[j] /= std::sqrt(norm);
    }
    z_.resize(static_cast<size_t>(samples_) * k_);
    for (double& z : z_) z = rng.normal();
    const double kd = static_cast<double>(k_);
    c_k_ = std::pow(std::numbers::pi, kd / 2.0) / (std::pow(2.0, kd) * std::tgamma(kd / 2.0 + 1.0));
  }
  rebuild();
}

void ExpectedHvi::add(const Objectives& point) {
  front_.push_back(point);
  rebuild();
}

void ExpectedHvi::rebuild() {
  if (k_ == 1) {
    best_ = ref_[0];
    for (const auto& p : front_) best_ = std::max(best_, p[0]);
  } else if (k_ == 2) {
    // Minimization form: q = -p, R = -ref; keep points strictly inside the box.
    std::vector<std::pair<double, double>> q;
    for (const auto& p : front_) {
      if (p[0] > ref_[0] && p[1] > ref_[1]) q.emplace_back(-p[0], -p[1]);
    }
    std::sort(q.begin(), q.end());
    a_.clear();
    b_.clear();
    for (const auto& [x, y] : q) {
      if (b_.empty() || y < b_.back()) {
        a_.push_back(x);
        b_.push_back(y);
      }
    }
  } else {
    best_w_.assign(static_cast<size_t>(weights_), 0.0);
    for (int i = 0; i < weights_; ++i) {
      const double* w = &w_[static_cast<size_t>(i) * k_];
      for (const auto& p : front_)
        best_w_[static_cast<size_t>(i)] =
            std::max(best_w_[static_cast<size_t>(i)], scalarize(p.data(), w, ref_, k_));
    }
  }
}

double ExpectedHvi::operator()(const double* mean, const double* sd) const {
  if (k_ == 1) {
    // E[(Y - best)^+] = E[(-best - (-Y))^+] with -Y ~ N(-mean, sd).
    return lower_partial(-best_, -mean[0], sd[0]);
  }
  if (k_ == 2) {
    const double m1 = -mean[0], m2 = -mean[1];
    double total = 0.0;
    double g_prev = 0.0;  // G_1(a_0 = -inf) = 0
    double b = -ref_[1];
    for (size_t i = 0; i <= a_.size(); ++i) {
      const double a_next = i < a_.size() ? a_[i] : -ref_[0];
      const double g_next = lower_partial(a_next, m1, sd[0]);
      total += (g_next - g_prev) * lower_partial(b, m2, sd[1]);
      g_prev = g_next;
      if (i < b_.size()) b = b_[i];
    }
    return std::max(total, 0.0);
  }
  std::vector<double> y(k_);
  double total = 0.0;
  for (int s = 0; s < samples_; ++s) {
    const double* z = &z_[static_cast<size_t>(s) * k_];
    for (size_t j = 0; j < k_; ++j) y[j] = mean[j] + sd[j] * z[j];
    for (int i = 0; i < weights_; ++i) {
      const double v = scalarize(y.data(), &w_[static_cast<size_t>(i) * k_], ref_, k_);
      total += std::max(0.0, v - best_w_[static_cast<size_t>(i)]);
    }
  }
  return c_k_ * total / (static_cast<double>(samples_) * static_cast<double>(weights_));
}

double ehvi_2d(const std::vector<Objectives>& front, const Objectives& ref, const Objectives& mean,
               const Objectives& sd) {
  return ExpectedHvi(front, ref)(mean.data(), sd.data());
}

double ehvi_mc(const std::vector<Objectives>& front, const Objectives& ref, const Objectives& mean,
               const Objectives& sd, size_t samples, uint64_t seed) {
  const double base = hypervolume(front, ref);
  Rng rng(seed);
  std::vector<Objectives> with = front;
  with.emplace_back(mean.size());
  double total = 0.0;
  for (size_t s = 0; s < samples; ++s) {
    for (size_t j = 0; j < mean.size(); ++j) with.back()[j] = mean[j] + sd[j] * rng.normal();
    total += hypervolume(with, ref) - base;
  }
  return total / static_cast<double>(samples);
}

}  // namespace autodistill::bo
