#pragma once
// Statistics of latency samples: percentiles, Tukey outlier trimming, a
// distribution-free confidence interval of the median, and the summary a
// probe reports. Pure functions on values; thread-safe.

#include <cstddef>
#include <span>
#include <vector>

namespace autodistill::probe {

// The p-th percentile (p in [0, 100]) of ascending `sorted` samples, by linear
// interpolation between the closest ranks (NumPy's default, Hyndman & Fan
// type 7):  h = (n - 1) p / 100,  x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
// 0 for no samples.
double percentile(std::span<const double> sorted, double p);

// percentile(sorted(samples), 50).
double median(std::vector<double> samples);

// Arithmetic mean, and the sample standard deviation (n - 1 in the
// denominator; 0 for fewer than two samples).
double mean(std::span<const double> samples);
double standard_deviation(std::span<const double> samples);

// Samples outside Tukey's fences [Q1 - k IQR, Q3 + k IQR] (Tukey 1977; k = 3
// marks "far out" values) are dropped: on a quiet machine they are
// interruptions (a context switch, a page fault), not the model's latency.
// `kept` stays in ascending order. Never removes every sample: when the
// fences would (a tiny k on two or three samples), nothing is removed.
struct Trimmed {
  std::vector<double> kept;
  size_t removed = 0;
  double low_fence = 0;
  double high_fence = 0;
};
Trimmed trim_outliers(std::vector<double> samples, double k);

// The standard normal quantile z with P(|Z| <= z) = confidence (0 < confidence < 1);
// 1.95996... for 0.95.
double two_sided_z(double confidence);

// A distribution-free confidence interval of the median from order
// statistics (Conover, Practical Nonparametric Statistics, 3rd ed., §3.2, normal
// approximation of Binomial(n, 1/2)): with z = two_sided_z(confidence) the
// 1-based ranks are
//   j = floor(n/2 - z sqrt(n)/2),   k = ceil(1 + n/2 + z sqrt(n)/2),
// clamped to [1, n]; the interval is [x(j), x(k)] of the ascending `sorted`.
struct Interval {
  double low = 0;
  double high = 0;
};
Interval median_confidence_interval(std::span<const double> sorted, double confidence);

// What a probe reports about its timed runs, all in milliseconds and computed
// over the samples kept after trimming (summarize_latencies).
struct LatencySummary {
  size_t runs = 0;      // samples kept
  size_t outliers = 0;  // samples trimmed
  double median = 0;
  double p90 = 0;
  double p99 = 0;
  double mean = 0;
  double std_dev = 0;
  double min = 0;
  double max = 0;
  Interval median_ci;  // confidence interval of the median
  // (p75 - p25) / median: the spread that decides a re-probe.
  double relative_iqr = 0;

  // max(median - ci.low, ci.high - median) / median: the CI is within
  // +-relative_ci_halfwidth() of the median. Infinite for a zero median.
  double relative_ci_halfwidth() const;
};

// Trims `samples_ms` with trim_outliers(fence_k) and summarizes what is kept,
// with the median's interval at `confidence`. All zero for no samples.
LatencySummary summarize_latencies(std::vector<double> samples_ms, double fence_k,
                                   double confidence);

}  // namespace autodistill::probe
