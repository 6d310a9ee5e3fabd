#include "autodistill/bo/ehvi.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
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

// Inverse of the standard normal CDF: Acklam's rational approximation
// (relative error 1.15e-9) refined by one Halley step on erfc.
double inverse_normal_cdf(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double low = 0.02425;
  auto tail = [&](double q) {
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  };
  double x = 0.0;
  if (p < low) {
    x = tail(std::sqrt(-2.0 * std::log(p)));
  } else if (p > 1.0 - low) {
    x = -tail(std::sqrt(-2.0 * std::log1p(-p)));
  } else {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
  }
  const double e = norm_cdf(x) - p;
  const double u = e * std::sqrt(2.0 * std::numbers::pi) * std::exp(0.5 * x * x);
  return x - u / (1.0 + 0.5 * x * u);
}

// Point `index` (>= 1) of the Halton sequence in one base: the radical inverse.
double radical_inverse(uint64_t index, uint64_t base) {
  double f = 1.0, r = 0.0;
  for (; index > 0; index /= base) {
    f /= static_cast<double>(base);
    r += f * static_cast<double>(index % base);
  }
  return r;
}

// The first `count` primes (Halton bases).
std::vector<uint64_t> primes(size_t count) {
  std::vector<uint64_t> out;
  for (uint64_t n = 2; out.size() < count; ++n) {
    bool prime = true;
    for (uint64_t p : out) prime = prime && n % p != 0;
    if (prime) out.push_back(n);
  }
  return out;
}

// `count` points of the k-dimensional Halton sequence in bases
// primes[first..first+k), each shifted by a random offset modulo 1
// (Cranley-Patterson rotation: still low-discrepancy, unbiased, seeded),
// kept inside (0, 1).
std::vector<double> shifted_halton(size_t count, size_t k, const std::vector<uint64_t>& bases,
                                   size_t first, Rng& rng) {
  std::vector<double> shift(k);
  for (double& v : shift) v = rng.uniform();
  std::vector<double> u(count * k);
  for (size_t i = 0; i < count; ++i) {
    for (size_t j = 0; j < k; ++j) {
      double v = radical_inverse(i + 1, bases[first + j]) + shift[j];
      v -= std::floor(v);
      u[i * k + j] = std::clamp(v, 1e-12, 1.0 - 1e-12);
    }
  }
  return u;
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
                         const ScalarizationOptions& options, Objectives upper)
    : front_(std::move(front)), ref_(std::move(ref)), upper_(std::move(upper)), k_(ref_.size()) {
  if (upper_.size() != k_) upper_.assign(k_, std::numeric_limits<double>::infinity());
  for (auto& p : front_) clamp(p);
  if (k_ >= 4) {
    weights_ = options.weights;
    samples_ = options.samples;
    // Quasi-random directions and draws (randomly shifted Halton points
    // through the normal quantile): the same accuracy as i.i.d. draws with
    // far fewer of them.
    Rng rng(options.seed);
    const std::vector<uint64_t> bases = primes(2 * k_);
    w_ = shifted_halton(static_cast<size_t>(weights_), k_, bases, 0, rng);
    for (int i = 0; i < weights_; ++i) {
      double norm = 0.0;
      double* w = &w_[static_cast<size_t>(i) * k_];
      for (size_t j = 0; j < k_; ++j) {
        w[j] = inverse_normal_cdf(0.5 + 0.5 * w[j]) + 1e-12;  // half-normal
        norm += w[j] * w[j];
      }
      for (size_t j = 0; j < k_; ++j) w[j] /= std::sqrt(norm);
    }
    z_ = shifted_halton(static_cast<size_t>(samples_), k_, bases, k_, rng);
    for (double& z : z_) z = inverse_normal_cdf(z);
    z_max_.assign(k_, -std::numeric_limits<double>::infinity());
    for (size_t i = 0; i < z_.size(); ++i) z_max_[i % k_] = std::max(z_max_[i % k_], z_[i]);
    const double kd = static_cast<double>(k_);
    c_k_ = std::pow(std::numbers::pi, kd / 2.0) / (std::pow(2.0, kd) * std::tgamma(kd / 2.0 + 1.0));
  }
  rebuild();
}

void ExpectedHvi::add(const Objectives& point) {
  front_.push_back(point);
  clamp(front_.back());
  rebuild();
}

void ExpectedHvi::clamp(Objectives& point) const {
  if (k_ != 2 && k_ != 3) return;
  for (size_t j = 0; j < k_; ++j) point[j] = std::min(point[j], upper_[j]);
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
  } else if (k_ == 3) {
    rebuild_slices();
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

void ExpectedHvi::rebuild_slices() {
  std::vector<Objectives> inside;
  for (const auto& p : front_) {
    if (p[0] > ref_[0] && p[1] > ref_[1] && p[2] > ref_[2]) inside.push_back(p);
  }
  for (size_t j = 0; j < 3; ++j) {
    levels_[j] = {ref_[j]};
    for (const auto& p : inside) levels_[j].push_back(p[j]);
    std::sort(levels_[j].begin(), levels_[j].end());
    levels_[j].erase(std::unique(levels_[j].begin(), levels_[j].end()), levels_[j].end());
  }
  auto level = [&](size_t j, double v) {
    return static_cast<int>(std::lower_bound(levels_[j].begin(), levels_[j].end(), v) -
                            levels_[j].begin());
  };
  slices_.clear();
  stripes_.clear();
  const auto& c = levels_[2];
  for (size_t t = 0; t < c.size(); ++t) {
    Slice slice;
    slice.lo = static_cast<int>(t);
    slice.hi = t + 1 < c.size() ? static_cast<int>(t + 1) : -1;
    slice.first = stripes_.size();
    // The staircase of the points above the slice, by the first objective descending.
    std::vector<std::pair<double, double>> above;
    if (slice.hi >= 0) {
      for (const auto& p : inside) {
        if (p[2] >= c[static_cast<size_t>(slice.hi)]) above.emplace_back(p[0], p[1]);
      }
    }
    std::sort(above.begin(), above.end(), std::greater<>());
    int u = -1;                 // upper end of the stripe on objective 0 (-1: +inf)
    int v = level(1, ref_[1]);  // lower end on objective 1
    for (const auto& [x, y] : above) {
      if (y <= levels_[1][static_cast<size_t>(v)]) continue;  // dominated in the slice
      stripes_.push_back({level(0, x), u, v});
      u = level(0, x);
      v = level(1, y);
    }
    stripes_.push_back({level(0, ref_[0]), u, v});
    slice.last = stripes_.size();
    slices_.push_back(slice);
  }
}

double ExpectedHvi::operator()(const double* mean, const double* sd) const {
  if (k_ == 1) {
    // E[(Y - best)^+] = E[(-best - (-Y))^+] with -Y ~ N(-mean, sd).
    return lower_partial(-best_, -mean[0], sd[0]);
  }
  if (k_ == 2) {
    const double m1 = -mean[0], m2 = -mean[1];
    // G_j of max(-Y_j, -upper_j): G_j(c) - G_j(-upper_j) for c > -upper_j, else 0.
    auto g = [&](size_t j, double c, double m) {
      if (!std::isfinite(upper_[j])) return lower_partial(c, m, sd[j]);
      const double l = -upper_[j];
      return c > l ? std::max(0.0, lower_partial(c, m, sd[j]) - lower_partial(l, m, sd[j])) : 0.0;
    };
    double total = 0.0;
    double g_prev = 0.0;  // G_1(a_0 = -inf) = 0
    double b = -ref_[1];
    for (size_t i = 0; i <= a_.size(); ++i) {
      const double a_next = i < a_.size() ? a_[i] : -ref_[0];
      const double g_next = g(0, a_next, m1);
      total += (g_next - g_prev) * g(1, b, m2);
      g_prev = g_next;
      if (i < b_.size()) b = b_[i];
    }
    return std::max(total, 0.0);
  }
  if (k_ == 3) {
    // psi_j(level) = E[(min(Y_j, upper_j) - level)^+]
    //             = E[(Y_j - level)^+] - E[(Y_j - upper_j)^+] below upper_j, else 0;
    // +inf levels give 0.
    std::vector<double> psi[3];
    for (size_t j = 0; j < 3; ++j) {
      const bool capped = std::isfinite(upper_[j]);
      const double beyond = capped ? lower_partial(-upper_[j], -mean[j], sd[j]) : 0.0;
      psi[j].resize(levels_[j].size());
      for (size_t l = 0; l < levels_[j].size(); ++l) {
        const double c = levels_[j][l];
        psi[j][l] = capped && c >= upper_[j]
                        ? 0.0
                        : std::max(0.0, lower_partial(-c, -mean[j], sd[j]) - beyond);
      }
    }
    auto at = [&](size_t j, int l) { return l < 0 ? 0.0 : psi[j][static_cast<size_t>(l)]; };
    double total = 0.0;
    for (const Slice& slice : slices_) {
      const double depth = at(2, slice.lo) - at(2, slice.hi);
      if (depth <= 0.0) continue;
      double area = 0.0;
      for (size_t i = slice.first; i < slice.last; ++i) {
        const Stripe& st = stripes_[i];
        area += (at(0, st.u_lo) - at(0, st.u_hi)) * at(1, st.v_lo);
      }
      total += depth * area;
    }
    return std::max(total, 0.0);
  }
  // A direction along which even the largest draw of every objective
  // (mean + sd * max_s z_sj) does not beat the front adds nothing for any
  // draw: skip it (exact, and most directions once the front is good).
  std::vector<int> active;
  active.reserve(static_cast<size_t>(weights_));
  for (int i = 0; i < weights_; ++i) {
    const double* w = &w_[static_cast<size_t>(i) * k_];
    double t = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < k_; ++j) {
      t = std::min(t, std::max(0.0, mean[j] + sd[j] * z_max_[j] - ref_[j]) / w[j]);
    }
    double power = 1.0;
    for (size_t j = 0; j < k_; ++j) power *= t;
    if (power > best_w_[static_cast<size_t>(i)]) active.push_back(i);
  }
  if (active.empty()) return 0.0;
  std::vector<double> y(k_);
  double total = 0.0;
  for (int s = 0; s < samples_; ++s) {
    const double* z = &z_[static_cast<size_t>(s) * k_];
    for (size_t j = 0; j < k_; ++j) y[j] = mean[j] + sd[j] * z[j];
    for (int i : active) {
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
