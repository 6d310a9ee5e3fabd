#include "autodistill/bo/output_warp.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "autodistill/bo/rng.hpp"

using namespace autodistill::bo;

namespace {

double skewness(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  double m2 = 0, m3 = 0;
  for (double x : v) {
    m2 += (x - m) * (x - m);
    m3 += (x - m) * (x - m) * (x - m);
  }
  m2 /= static_cast<double>(v.size());
  m3 /= static_cast<double>(v.size());
  return m3 / std::pow(m2, 1.5);
}

}  // namespace

TEST_CASE("output warp: identity without enough distinct values", "[bo][warp]") {
  CHECK(OutputWarp::fit({}).identity());
  CHECK(OutputWarp::fit({1.0, 1.0, 2.0, 2.0}).identity());
  CHECK(OutputWarp::fit({5.0, 5.0, 5.0}).identity());
  const OutputWarp id;
  CHECK(id(3.25) == 3.25);
}

TEST_CASE("output warp: monotone, and normalizes skewed values", "[bo][warp]") {
  Rng rng(7);
  // Accuracies that saturate below 100, with a few degenerate ones at 10.
  std::vector<double> acc;
  for (int i = 0; i < 200; ++i) acc.push_back(97.0 - 40.0 * std::exp(-2.0 * rng.uniform()));
  for (int i = 0; i < 8; ++i) acc.push_back(10.0 + rng.uniform());
  const OutputWarp w = OutputWarp::fit(acc);
  REQUIRE_FALSE(w.identity());
  for (double x = -50.0; x < 200.0; x += 0.37) REQUIRE(w(x + 0.37) > w(x));
  std::vector<double> warped;
  for (double a : acc) warped.push_back(w(a));
  CHECK(std::abs(skewness(warped)) < 0.5 * std::abs(skewness(acc)));
  // Normal data keep lambda near 1 (a plain standardization).
  std::vector<double> normal;
  for (int i = 0; i < 400; ++i) normal.push_back(3.0 + 2.0 * rng.normal());
  CHECK(OutputWarp::fit(normal).lambda() == Approx(1.0).margin(0.25));
  // Deterministic: the same data give the same warp.
  CHECK(OutputWarp::fit(acc)(55.5) == w(55.5));
}
