#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

#include "autodistill/bo/ehvi.hpp"
#include "autodistill/bo/rng.hpp"

using namespace autodistill::bo;

namespace {

std::vector<Objectives> random_front(Rng& rng, size_t n, size_t d) {
  std::vector<Objectives> pts(n, Objectives(d));
  for (auto& p : pts) {
    for (auto& x : p) x = rng.uniform();
  }
  return pts;
}

}  // namespace

TEST_CASE("exact 2-D EHVI agrees with a Monte-Carlo estimate", "[bo][ehvi]") {
  Rng rng(11);
  for (int trial = 0; trial < 12; ++trial) {
    const auto front = random_front(rng, 1 + rng.below(8), 2);
    const Objectives ref = {-0.1, -0.1};
    const Objectives mean = {rng.uniform(0.2, 1.1), rng.uniform(0.2, 1.1)};
    const Objectives sd = {rng.uniform(0.05, 0.4), rng.uniform(0.05, 0.4)};
    const double exact = ehvi_2d(front, ref, mean, sd);
    const double mc = ehvi_mc(front, ref, mean, sd, 100000, 100 + static_cast<uint64_t>(trial));
    INFO("trial " << trial << " exact " << exact << " mc " << mc);
    REQUIRE(exact == Approx(mc).epsilon(0.03).margin(2e-4));
  }
}

TEST_CASE("EHVI without uncertainty is the hypervolume improvement", "[bo][ehvi]") {
  const std::vector<Objectives> front = {{1, 3}, {2, 2}, {3, 1}};
  const Objectives ref = {0, 0};
  const Objectives y = {2.5, 2.5};
  std::vector<Objectives> with = front;
  with.push_back(y);
  const double hvi = hypervolume(with, ref) - hypervolume(front, ref);
  REQUIRE(hvi == Approx(1.25));
  REQUIRE(ehvi_2d(front, ref, y, {0, 0}) == Approx(hvi));
  // Empty front: the box [ref, y].
  REQUIRE(ehvi_2d({}, ref, y, {0, 0}) == Approx(6.25));
  // A dominated candidate improves nothing.
  REQUIRE(ehvi_2d(front, ref, {1, 1}, {0, 0}) == 0.0);
}

TEST_CASE("1-D EHVI is expected improvement", "[bo][ehvi]") {
  const ExpectedHvi ehvi({{1.0}, {0.5}}, {0.0});
  const double mean = 0.8, sd = 0.3;
  // E[(Y - 1)^+] = (m - 1) Phi(z) + sd phi(z), z = (m - 1) / sd
  const double z = (mean - 1.0) / sd;
  const double expected = (mean - 1.0) * 0.5 * std::erfc(-z / std::sqrt(2.0)) +
                          sd * std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
  REQUIRE(ehvi(&mean, &sd) == Approx(expected));
}

TEST_CASE("3-objective EHVI is exact", "[bo][ehvi]") {
  Rng rng(5);
  for (size_t n : {1, 4, 9}) {
    const auto front = random_front(rng, n, 3);
    const Objectives ref = {rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), 0.0};
    const ExpectedHvi ehvi(front, ref);
    for (int trial = 0; trial < 8; ++trial) {
      const Objectives y = {rng.uniform(-0.3, 1.2), rng.uniform(-0.3, 1.2), rng.uniform(-0.3, 1.2)};
      std::vector<Objectives> with = front;
      with.push_back(y);
      const double hvi = hypervolume(with, ref) - hypervolume(front, ref);
      const Objectives zero = {0, 0, 0};
      INFO("front " << n << " trial " << trial);
      REQUIRE(ehvi(y.data(), zero.data()) == Approx(hvi).margin(1e-12));
    }
    // With uncertainty (one objective known exactly): against Monte-Carlo EHVI.
    const Objectives mean = {0.7, 0.6, 0.8}, sd = {0.2, 0.0, 0.3};
    INFO("front " << n);
    REQUIRE(ehvi(mean.data(), sd.data()) ==
            Approx(ehvi_mc(front, ref, mean, sd, 40000, 3)).epsilon(0.03));
  }
}

TEST_CASE("scalarized EHVI for 4 objectives estimates the hypervolume improvement", "[bo][ehvi]") {
  Rng rng(5);
  const auto front = random_front(rng, 6, 4);
  const Objectives ref = {0, 0, 0, 0};
  ScalarizationOptions options;
  options.weights = 4096;
  options.samples = 1;
  options.seed = 1;
  const ExpectedHvi scalarized(front, ref, options);
  for (int trial = 0; trial < 5; ++trial) {
    const Objectives y = {rng.uniform(0.4, 1.1), rng.uniform(0.4, 1.1), rng.uniform(0.4, 1.1),
                          rng.uniform(0.4, 1.1)};
    std::vector<Objectives> with = front;
    with.push_back(y);
    const double hvi = hypervolume(with, ref) - hypervolume(front, ref);
    const Objectives zero = {0, 0, 0, 0};
    INFO("trial " << trial);
    REQUIRE(scalarized(y.data(), zero.data()) == Approx(hvi).epsilon(0.1).margin(2e-3));
  }
  // With uncertainty: against Monte-Carlo EHVI.
  options.weights = 2048;
  options.samples = 256;
  const ExpectedHvi noisy(front, ref, options);
  const Objectives mean = {0.7, 0.7, 0.7, 0.7}, sd = {0.2, 0.2, 0.2, 0.2};
  REQUIRE(noisy(mean.data(), sd.data()) ==
          Approx(ehvi_mc(front, ref, mean, sd, 20000, 3)).epsilon(0.1));
  // A candidate that no draw lets beat the front along any direction scores 0.
  const Objectives inside = {0.05, 0.05, 0.05, 0.05}, small = {0.01, 0.01, 0.01, 0.01};
  REQUIRE(noisy(inside.data(), small.data()) == 0.0);
}

TEST_CASE("adding a believed point lowers EHVI near it", "[bo][ehvi]") {
  ExpectedHvi ehvi({{1, 3}, {3, 1}}, {0, 0});
  const Objectives mean = {2.2, 2.2}, sd = {0.3, 0.3};
  const double before = ehvi(mean.data(), sd.data());
  ehvi.add({2.2, 2.2});
  REQUIRE(ehvi(mean.data(), sd.data()) < 0.5 * before);
}
