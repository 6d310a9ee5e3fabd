// The shared Pareto and constraint arithmetic (messages/pareto.hpp).
#include "autodistill/pareto.hpp"

#include <catch2/catch.hpp>
#include <cmath>

using namespace autodistill;

namespace {
std::vector<std::unique_ptr<wire::ConstraintT>> constraints(
    std::initializer_list<std::tuple<const char*, wire::Comparison, double>> list) {
  std::vector<std::unique_ptr<wire::ConstraintT>> out;
  for (const auto& [metric, comparison, bound] : list) {
    auto c = std::make_unique<wire::ConstraintT>();
    c->metric = metric;
    c->comparison = comparison;
    c->bound = bound;
    out.push_back(std::move(c));
  }
  return out;
}
}  // namespace

TEST_CASE("dominates: no worse everywhere and better somewhere", "[pareto]") {
  CHECK(dominates({2, 1}, {1, 1}));
  CHECK_FALSE(dominates({1, 1}, {1, 1}));  // equal: neither dominates
  CHECK_FALSE(dominates({2, 0}, {1, 1}));  // a trade-off
  CHECK_FALSE(dominates({1, 1}, {2, 1}));
}

TEST_CASE("pareto_front keeps the non-dominated points, equal ones all", "[pareto]") {
  const std::vector<ObjectiveVector> points = {{1, 1}, {2, 0}, {0, 2}, {1, 1}, {0.5, 0.5}};
  CHECK(pareto_front(points) == std::vector<size_t>{0, 1, 2, 3});
  CHECK(pareto_front({}).empty());
}

TEST_CASE("constraints: bound, direction, missing metric, NaN", "[pareto]") {
  const auto cs = constraints({{"latency_ms", wire::Comparison::LessEqual, 10},
                               {"accuracy", wire::Comparison::GreaterEqual, 0.5}});
  CHECK(violated_constraint(cs, {{"latency_ms", 10}, {"accuracy", 0.5}}, true) == nullptr);
  const wire::ConstraintT* slow = violated_constraint(cs, {{"latency_ms", 12}}, false);
  REQUIRE(slow != nullptr);
  CHECK(slow->metric == "latency_ms");
  CHECK(violation_text(*slow, 12) == "latency_ms 12 violates the constraint latency_ms <= 10");
  // A partial measurement passes over the missing accuracy; a complete one does not.
  CHECK(violated_constraint(cs, {{"latency_ms", 9}}, false) == nullptr);
  const wire::ConstraintT* missing = violated_constraint(cs, {{"latency_ms", 9}}, true);
  REQUIRE(missing != nullptr);
  CHECK(missing->metric == "accuracy");
  CHECK(violated_constraint(cs, {{"latency_ms", 9}, {"accuracy", 0.4}}, true)->metric ==
        "accuracy");
  double value = 0;
  REQUIRE(violated_constraint(cs, {{"latency_ms", 12}}, false, &value) == cs[0].get());
  CHECK(value == 12);
  REQUIRE(violated_constraint(cs, {{"latency_ms", 9}}, true, &value) == cs[1].get());
  CHECK(std::isnan(value));
  CHECK(within(*cs[0], NAN));
}
