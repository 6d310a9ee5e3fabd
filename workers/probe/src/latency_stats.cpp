#include "autodistill/probe/latency_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace autodistill::probe {

double percentile(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0;
  const double h = (static_cast<double>(sorted.size()) - 1) * std::clamp(p, 0.0, 100.0) / 100.0;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

double median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return percentile(samples, 50);
}

double mean(std::span<const double> samples) {
  if (samples.empty()) return 0;
  return std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
}

double standard_deviation(std::span<const double> samples) {
  if (samples.size() < 2) return 0;
  const double m = mean(samples);
  double sum_sq = 0;
  for (double x : samples) sum_sq += (x - m) * (x - m);
  return std::sqrt(sum_sq / static_cast<double>(samples.size() - 1));
}

Trimmed trim_outliers(std::vector<double> samples, double k) {
  std::sort(samples.begin(), samples.end());
  Trimmed out;
  const double q1 = percentile(samples, 25);
  const double q3 = percentile(samples, 75);
  out.low_fence = q1 - k * (q3 - q1);
  out.high_fence = q3 + k * (q3 - q1);
  out.kept.reserve(samples.size());
  for (double x : samples) {
    if (x >= out.low_fence && x <= out.high_fence) out.kept.push_back(x);
  }
  out.removed = samples.size() - out.kept.size();
  if (out.kept.empty()) {  // a tiny k on two or three samples: keep them all
    out.kept = std::move(samples);
    out.removed = 0;
  }
  return out;
}

double two_sided_z(double confidence) {
  // P(|Z| <= z) = erf(z / sqrt 2) is increasing in z: bisect.
  double lo = 0, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (std::erf(mid / std::sqrt(2.0)) < confidence ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

Interval median_confidence_interval(std::span<const double> sorted, double confidence) {
  if (sorted.empty()) return {};
  const double n = static_cast<double>(sorted.size());
  const double half_width = two_sided_z(confidence) * std::sqrt(n) / 2;
  const double j = std::clamp(std::floor(n / 2 - half_width), 1.0, n);
  const double k = std::clamp(std::ceil(1 + n / 2 + half_width), 1.0, n);
  return {sorted[static_cast<size_t>(j) - 1], sorted[static_cast<size_t>(k) - 1]};
}

double LatencySummary::relative_ci_halfwidth() const {
  if (median <= 0) return std::numeric_limits<double>::infinity();
  return std::max(median - median_ci.low, median_ci.high - median) / median;
}

LatencySummary summarize_latencies(std::vector<double> samples_ms, double fence_k,
                                   double confidence) {
  LatencySummary s;
  if (samples_ms.empty()) return s;
  Trimmed trimmed = trim_outliers(std::move(samples_ms), fence_k);
  const std::vector<double>& x = trimmed.kept;
  s.runs = x.size();
  s.outliers = trimmed.removed;
  s.median = percentile(x, 50);
  s.p90 = percentile(x, 90);
  s.p99 = percentile(x, 99);
  s.mean = mean(x);
  s.std_dev = standard_deviation(x);
  s.min = x.front();
  s.max = x.back();
  s.median_ci = median_confidence_interval(x, confidence);
  s.relative_iqr = s.median > 0 ? (percentile(x, 75) - percentile(x, 25)) / s.median : 0;
  return s;
}

}  // namespace autodistill::probe
