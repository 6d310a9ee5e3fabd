// Statistics on known data: percentiles (NumPy's linear method), mean and
// standard deviation, Tukey trimming, the median's order-statistic interval.

#include <catch2/catch.hpp>

#include "autodistill/probe/latency_stats.hpp"

namespace {

using namespace autodistill::probe;

std::vector<double> one_to(int n) {
  std::vector<double> v;
  for (int i = 1; i <= n; ++i) v.push_back(i);
  return v;
}

}  // namespace

TEST_CASE("percentile interpolates linearly between closest ranks", "[probe][stats]") {
  const std::vector<double> x = {1, 2, 3, 4};  // numpy.percentile(x, p)
  CHECK(percentile(x, 0) == 1.0);
  CHECK(percentile(x, 25) == Approx(1.75));
  CHECK(percentile(x, 50) == Approx(2.5));
  CHECK(percentile(x, 90) == Approx(3.7));
  CHECK(percentile(x, 100) == 4.0);
  CHECK(percentile(std::vector<double>{7}, 99) == 7.0);
  CHECK(percentile(std::vector<double>{}, 50) == 0.0);

  CHECK(median({5, 1, 3}) == 3.0);
  CHECK(median({4, 1, 3, 2}) == Approx(2.5));
  const auto hundred = one_to(100);
  CHECK(percentile(hundred, 90) == Approx(90.1));
  CHECK(percentile(hundred, 99) == Approx(99.01));
}

TEST_CASE("mean and sample standard deviation", "[probe][stats]") {
  const std::vector<double> x = {2, 4, 4, 4, 5, 5, 7, 9};
  CHECK(mean(x) == Approx(5.0));
  CHECK(standard_deviation(x) == Approx(2.13808993529939));  // sqrt(32 / 7)
  CHECK(standard_deviation(std::vector<double>{3}) == 0.0);
}

TEST_CASE("trim_outliers drops values beyond Tukey's fences", "[probe][stats]") {
  // Sorted: -20, 1..10, 100. Q1 = 2.75, Q3 = 8.25, IQR = 5.5: k = 1.5 puts
  // the fences at -5.5 and 16.5.
  std::vector<double> x = one_to(10);
  x.push_back(100);  // an interruption
  x.push_back(-20);
  auto t = trim_outliers(x, 1.5);
  CHECK(t.removed == 2);
  CHECK(t.kept == one_to(10));
  CHECK(t.low_fence == Approx(-5.5));
  CHECK(t.high_fence == Approx(16.5));

  // Nothing is trimmed from well-behaved data, and a wide k keeps everything.
  CHECK(trim_outliers(one_to(10), 1.5).removed == 0);
  CHECK(trim_outliers(x, 100).removed == 0);
  // A tiny k on two samples would drop both: nothing is dropped instead.
  auto two = trim_outliers({1, 2}, 0.01);
  CHECK(two.kept.size() == 2);
  CHECK(two.removed == 0);
}

TEST_CASE("the median's confidence interval uses Conover's order statistics", "[probe][stats]") {
  CHECK(two_sided_z(0.95) == Approx(1.959964).epsilon(1e-6));
  CHECK(two_sided_z(0.99) == Approx(2.575829).epsilon(1e-6));
  // n = 100, 95 %: ranks j = floor(50 - 9.8) = 40 and k = ceil(51 + 9.8) = 61.
  auto ci = median_confidence_interval(one_to(100), 0.95);
  CHECK(ci.low == 40.0);
  CHECK(ci.high == 61.0);
  // n = 10: j = floor(5 - 3.1) = 1, k = ceil(6 + 3.1) = 10.
  ci = median_confidence_interval(one_to(10), 0.95);
  CHECK(ci.low == 1.0);
  CHECK(ci.high == 10.0);
  // Clamped to the sample for tiny n.
  ci = median_confidence_interval(std::vector<double>{3}, 0.95);
  CHECK(ci.low == 3.0);
  CHECK(ci.high == 3.0);
}

TEST_CASE("summarize_latencies reports over the trimmed samples", "[probe][stats]") {
  std::vector<double> x = one_to(100);
  x.push_back(10000);
  const LatencySummary s = summarize_latencies(x, 3.0, 0.95);
  CHECK(s.runs == 100);
  CHECK(s.outliers == 1);
  CHECK(s.median == Approx(50.5));
  CHECK(s.p90 == Approx(90.1));
  CHECK(s.p99 == Approx(99.01));
  CHECK(s.mean == Approx(50.5));
  CHECK(s.std_dev == Approx(29.011491975882));
  CHECK(s.min == 1.0);
  CHECK(s.max == 100.0);
  CHECK(s.median_ci.low == 40.0);
  CHECK(s.median_ci.high == 61.0);
  CHECK(s.relative_iqr == Approx((75.25 - 25.75) / 50.5));
  // max(50.5 - 40, 61 - 50.5) / 50.5
  CHECK(s.relative_ci_halfwidth() == Approx(10.5 / 50.5));

  const LatencySummary empty = summarize_latencies({}, 3.0, 0.95);
  CHECK(empty.runs == 0);
  CHECK(empty.median == 0.0);
}
