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

TEST_CASE("an upper bound counts hypervolume only up to it (2 and 3 objectives)", "[bo][ehvi]") {
  Rng rng(23);
  for (size_t k : {2, 3}) {
    const auto front = random_front(rng, 5, k);
    const Objectives ref(k, -0.1);
    Objectives upper(k, 1.0);
    upper[0] = 0.9;  // front points past it are clamped
    const ExpectedHvi bounded(front, ref, {}, upper);
    const ExpectedHvi unbounded(front, ref);
    const ExpectedHvi far(front, ref, {}, Objectives(k, 1e6));
    auto clamped_hvi = [&](Objectives y) {
      for (size_t j = 0; j < k; ++j) y[j] = std::min(y[j], upper[j]);
      std::vector<Objectives> with = front;
      with.push_back(y);
      return hypervolume(with, ref) - hypervolume(front, ref);
    };
    for (int trial = 0; trial < 6; ++trial) {
      Objectives mean(k), sd(k), zero(k, 0.0);
      for (size_t j = 0; j < k; ++j) {
        mean[j] = rng.uniform(0.3, 1.3);
        sd[j] = rng.uniform(0.05, 0.3);
      }
      INFO("k " << k << " trial " << trial);
      // Known values: the hypervolume improvement of the clamped point.
      REQUIRE(bounded(mean.data(), zero.data()) == Approx(clamped_hvi(mean)).margin(1e-12));
      // Uncertain: Monte Carlo over clamped draws.
      double mc = 0.0;
      const int draws = 40000;
      for (int s = 0; s < draws; ++s) {
        Objectives y(k);
        for (size_t j = 0; j < k; ++j) y[j] = mean[j] + sd[j] * rng.normal();
        mc += clamped_hvi(y);
      }
      mc /= draws;
      const double exact = bounded(mean.data(), sd.data());
      REQUIRE(exact == Approx(mc).epsilon(0.03).margin(3e-4));
      REQUIRE(exact <= unbounded(mean.data(), sd.data()) + 1e-12);
      // A bound far beyond every draw changes nothing.
      REQUIRE(far(mean.data(), sd.data()) ==
              Approx(unbounded(mean.data(), sd.data())).epsilon(1e-9).margin(1e-12));
    }
    // A prediction past the bound of an objective whose bound the front
    // already reaches, and no better elsewhere, improves nothing.
    Objectives at_bound = front[0];
    at_bound[0] = upper[0];
    std::vector<Objectives> reached = front;
    reached.push_back(at_bound);
    const ExpectedHvi floor(reached, ref, {}, upper);
    Objectives past = at_bound, sd(k, 0.0);
    past[0] = upper[0] + 0.5;
    sd[0] = 0.2;
    REQUIRE(floor(past.data(), sd.data()) == Approx(0.0).margin(1e-12));
    REQUIRE(ExpectedHvi(reached, ref)(past.data(), sd.data()) > 0.01);
  }
}
