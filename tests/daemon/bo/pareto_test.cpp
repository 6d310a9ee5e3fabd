#include <catch2/catch.hpp>
#include <cmath>

#include "autodistill/bo/pareto.hpp"
#include "autodistill/bo/rng.hpp"

using namespace autodistill::bo;

namespace {

std::vector<Objectives> random_integer_points(Rng& rng, size_t n, size_t d, int hi) {
  std::vector<Objectives> pts(n, Objectives(d));
  for (auto& p : pts) {
    for (auto& x : p) x = static_cast<double>(rng.below(static_cast<size_t>(hi) + 1));
  }
  return pts;
}

// Counts the unit cells [c, c+1]^d (c >= ref) covered by some box [ref, p].
double brute_force_volume(const std::vector<Objectives>& pts, const Objectives& ref, int hi) {
  const size_t d = ref.size();
  std::vector<int> cell(d, 0);
  double count = 0;
  for (;;) {
    for (const auto& p : pts) {
      bool covered = true;
      for (size_t j = 0; j < d && covered; ++j) covered = ref[j] + cell[j] + 1 <= p[j];
      if (covered) {
        count += 1;
        break;
      }
    }
    size_t j = 0;
    while (j < d && ++cell[j] >= hi) cell[j++] = 0;
    if (j == d) break;
  }
  return count;
}

}  // namespace

TEST_CASE("dominance and Pareto front", "[bo][pareto]") {
  REQUIRE(dominates({2, 2}, {1, 2}));
  REQUIRE_FALSE(dominates({2, 2}, {2, 2}));
  REQUIRE_FALSE(dominates({3, 1}, {1, 3}));
  const std::vector<Objectives> pts = {{1, 5}, {2, 4}, {2, 2}, {3, 1}, {0, 0}, {2, 4}};
  REQUIRE(pareto_front(pts) == std::vector<size_t>{0, 1, 3, 5});
  const auto fronts = non_dominated_sort(pts);
  REQUIRE(fronts.size() == 3);
  REQUIRE(fronts[0] == std::vector<size_t>{0, 1, 3, 5});
  REQUIRE(fronts[1] == std::vector<size_t>{2});
  REQUIRE(fronts[2] == std::vector<size_t>{4});
  const auto cd = crowding_distance(pts, fronts[0]);
  REQUIRE(std::isinf(cd[0]));
  REQUIRE(std::isinf(cd[2]));
  REQUIRE(std::isfinite(cd[1]));
}

TEST_CASE("exact hypervolume equals a brute-force cell count", "[bo][pareto]") {
  Rng rng(42);
  for (size_t d = 1; d <= 4; ++d) {
    const int hi = d <= 2 ? 20 : 8;
    for (int trial = 0; trial < 10; ++trial) {
      const auto pts = random_integer_points(rng, 1 + rng.below(12), d, hi);
      const Objectives ref(d, 0.0);
      REQUIRE(hypervolume(pts, ref) == Approx(brute_force_volume(pts, ref, hi)).margin(1e-9));
    }
  }
}

TEST_CASE("reference point handling", "[bo][pareto]") {
  // Points not strictly better than the reference contribute nothing.
  REQUIRE(hypervolume({{1, 5}, {5, 1}}, {1, 1}) == 0.0);
  REQUIRE(hypervolume({{3, 3}}, {1, 1}) == Approx(4.0));
  REQUIRE(hypervolume({{3, 3}, {0.5, 10}}, {1, 1}) == Approx(4.0));
  REQUIRE(hypervolume({}, {0, 0}) == 0.0);
}

TEST_CASE("front_reference: the front's nadir minus 10 % of its range", "[bo][pareto]") {
  // Front (0, 3), (1, 2), (3, 0); ranges 3 and 3.
  const std::vector<Objectives> front = {{0, 3}, {1, 2}, {3, 0}};
  auto ref = front_reference(front);
  REQUIRE(ref.size() == 2);
  REQUIRE(ref[0] == Approx(-0.3));
  REQUIRE(ref[1] == Approx(-0.3));
  // Dominated points, however far out, do not move it.
  auto with_outliers = front;
  with_outliers.push_back({-100, -100});
  with_outliers.push_back({0.5, 0.5});
  REQUIRE(front_reference(with_outliers) == ref);
  // ... and the scale is a parameter.
  REQUIRE(front_reference(front, 0.5)[0] == Approx(-1.5));
  // Three objectives.
  auto ref3 = front_reference({{1, 0, 0}, {0, 2, 0}, {0, 0, 4}, {-5, -5, -5}});
  REQUIRE(ref3[0] == Approx(-0.1));
  REQUIRE(ref3[1] == Approx(-0.2));
  REQUIRE(ref3[2] == Approx(-0.4));
  // No spread in an objective (a front of one point): NaN, the caller decides.
  auto single = front_reference({{2, 2}, {1, 1}});
  REQUIRE(std::isnan(single[0]));
  REQUIRE(std::isnan(single[1]));
  auto flat = front_reference({{1, 3}, {1, 2}, {2, 1}});  // (1, 2) dominated by (1, 3)
  REQUIRE(flat[0] == Approx(0.9));
  REQUIRE(flat[1] == Approx(0.8));
  REQUIRE(front_reference({}).empty());
}

TEST_CASE("front_gap_reference: the nadir minus the front's largest gap", "[bo][pareto]") {
  // Front values in objective 0: 0, 1, 3, 7 (gaps 1, 2, 4); in objective 1:
  // 9, 5, 4, 0 (gaps 4, 1, 4).
  const std::vector<Objectives> front = {{0, 9}, {1, 5}, {3, 4}, {7, 0}};
  auto ref = front_gap_reference(front);
  REQUIRE(ref.size() == 2);
  REQUIRE(ref[0] == Approx(-4.0));
  REQUIRE(ref[1] == Approx(-4.0));
  // Dominated points, however far out, do not move it.
  auto with_outliers = front;
  with_outliers.push_back({-100, -100});
  with_outliers.push_back({0.5, 0.5});
  REQUIRE(front_gap_reference(with_outliers) == ref);
  // Unequal gaps per objective; points ordered arbitrarily.
  auto uneven = front_gap_reference({{2, 1}, {0, 3}, {1, 2.5}});
  REQUIRE(uneven[0] == Approx(-1.0));  // values 0, 1, 2
  REQUIRE(uneven[1] == Approx(-0.5));  // values 1, 2.5, 3: largest gap 1.5
  // No spread: NaN, the caller decides; no points: empty.
  auto single = front_gap_reference({{2, 2}, {1, 1}});
  REQUIRE(std::isnan(single[0]));
  REQUIRE(std::isnan(single[1]));
  REQUIRE(front_gap_reference({}).empty());
}

TEST_CASE("layered_front_reference: the nadir of the first layers", "[bo][pareto]") {
  // Layer 1: (0, 3), (3, 0); layer 2: (-1, 2), (2, -2); layer 3: (-9, -9).
  const std::vector<Objectives> pts = {{0, 3}, {3, 0}, {-1, 2}, {2, -2}, {-9, -9}};
  REQUIRE(layered_front_reference(pts, 1) == front_reference(pts));
  auto two = layered_front_reference(pts, 2);  // ranges 4 and 5
  REQUIRE(two[0] == Approx(-1.4));
  REQUIRE(two[1] == Approx(-2.5));
  auto wide = layered_front_reference(pts, 2, 0.5);
  REQUIRE(wide[0] == Approx(-3.0));
  auto all = layered_front_reference(pts, 10);  // more layers than exist: every point
  REQUIRE(all[0] == Approx(-10.2));
  REQUIRE(all[1] == Approx(-10.2));
  REQUIRE(layered_front_reference({}, 2).empty());
}

TEST_CASE("quantile interpolates between order statistics", "[bo][pareto]") {
  REQUIRE(quantile({3, 1, 2, 4, 5}, 0.0) == 1.0);
  REQUIRE(quantile({3, 1, 2, 4, 5}, 1.0) == 5.0);
  REQUIRE(quantile({3, 1, 2, 4, 5}, 0.5) == Approx(3.0));
  REQUIRE(quantile({3, 1, 2, 4, 5}, 0.1) == Approx(1.4));
  REQUIRE(quantile({10, 0}, 0.25) == Approx(2.5));
  REQUIRE(quantile({7}, 0.3) == 7.0);
  REQUIRE(std::isnan(quantile({}, 0.5)));
}

TEST_CASE("Monte-Carlo hypervolume agrees with the exact value", "[bo][pareto]") {
  Rng rng(3);
  std::vector<Objectives> pts(20, Objectives(3));
  for (auto& p : pts) {
    for (auto& x : p) x = rng.uniform();
  }
  const Objectives ref(3, 0.0);
  REQUIRE(hypervolume_mc(pts, ref, 200000, 9) == Approx(hypervolume(pts, ref)).epsilon(0.02));
}
