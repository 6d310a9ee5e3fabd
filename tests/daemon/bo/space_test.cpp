#include <catch2/catch.hpp>

#include "autodistill/bo/space.hpp"

using namespace autodistill;
using namespace autodistill::bo;

namespace {

Factor ordinal(std::string name, std::vector<double> values) {
  Factor f;
  f.name = std::move(name);
  f.values = std::move(values);
  return f;
}

Factor range(std::string name, FactorKind kind, double low, double high) {
  Factor f;
  f.name = std::move(name);
  f.kind = kind;
  f.low = low;
  f.high = high;
  return f;
}

Status build_status(const DesignSpace& s) {
  return Space::build(s).status();
}

}  // namespace

TEST_CASE("table 1 space has 576 valid points in sorted grid order", "[bo][space]") {
  auto space = Space::build(table1_space());
  REQUIRE(space.is_ok());
  REQUIRE(space->grid_size() == uint64_t{576});
  REQUIRE(space->discrete());
  std::vector<Point> all;
  space->for_each([&](const Point& p) {
    all.push_back(p);
    return true;
  });
  REQUIRE(all.size() == 576);
  REQUIRE(std::is_sorted(all.begin(), all.end()));
  for (const auto& p : all) REQUIRE(space->check(p, "p").is_ok());
}

TEST_CASE("divisibility rule removes points whose heads do not divide the bottleneck",
          "[bo][space]") {
  DesignSpace spec;
  spec.factors = {ordinal("bottleneck_size", {96, 100}), ordinal("num_heads", {1, 8})};
  spec.divisibility = {{"num_heads", "bottleneck_size"}};
  auto space = Space::build(spec).value();
  int count = 0;
  space.for_each([&](const Point& p) {
    REQUIRE(static_cast<int64_t>(p[0]) % static_cast<int64_t>(p[1]) == 0);
    ++count;
    return true;
  });
  REQUIRE(count == 3);
  const Status s = space.check({100, 8}, "point");
  REQUIRE(s.code() == Code::kInvalidArgument);
  REQUIRE(s.field() == "point");
  REQUIRE(space.check({96, 8}, "point").is_ok());
}

TEST_CASE("bad spaces are rejected with the offending field", "[bo][space]") {
  REQUIRE(build_status(DesignSpace{}).field() == "factors");

  DesignSpace dup;
  dup.factors = {ordinal("a", {1}), ordinal("hidden_size", {128, 256, 128})};
  const Status d = build_status(dup);
  REQUIRE(d.code() == Code::kInvalidArgument);
  REQUIRE(d.field() == "factors[1].values[2]");

  DesignSpace nonpositive;
  nonpositive.factors = {ordinal("hidden_size", {0, 128})};
  REQUIRE(build_status(nonpositive).field() == "factors[0].values[0]");

  DesignSpace free_sign;  // not a size: negative values are fine
  free_sign.factors = {ordinal("temperature", {-1, 0, 1})};
  REQUIRE(build_status(free_sign).is_ok());

  DesignSpace bad_range;
  bad_range.factors = {range("lr", FactorKind::kContinuous, 1.0, 1.0)};
  REQUIRE(build_status(bad_range).field() == "factors[0].low");

  DesignSpace non_integer;
  non_integer.factors = {range("steps", FactorKind::kInteger, 1.5, 4)};
  REQUIRE(build_status(non_integer).field() == "factors[0].low");

  DesignSpace same_name;
  same_name.factors = {ordinal("a", {1}), ordinal("a", {2})};
  REQUIRE(build_status(same_name).field() == "factors[1].name");

  DesignSpace empty_categorical;
  Factor c;
  c.name = "act";
  c.kind = FactorKind::kCategorical;
  empty_categorical.factors = {c};
  REQUIRE(build_status(empty_categorical).field() == "factors[0].categories");

  DesignSpace unknown_rule;
  unknown_rule.factors = {ordinal("num_heads", {1, 2})};
  unknown_rule.divisibility = {{"num_heads", "bottleneck_size"}};
  REQUIRE(build_status(unknown_rule).field() == "divisibility[0].dividend");

  DesignSpace fractional_rule;
  fractional_rule.factors = {ordinal("h", {1.5, 2}), ordinal("b", {4, 8})};
  fractional_rule.divisibility = {{"h", "b"}};
  REQUIRE(build_status(fractional_rule).field() == "factors[0].values[0]");

  DesignSpace log_negative;
  log_negative.factors = {range("lr", FactorKind::kContinuous, -1.0, 1.0)};
  log_negative.factors[0].scale = Scale::kLog;
  REQUIRE(build_status(log_negative).field() == "factors[0].low");
}

TEST_CASE("points are checked, canonicalized and encoded", "[bo][space]") {
  DesignSpace spec;
  Factor act;
  act.name = "act";
  act.kind = FactorKind::kCategorical;
  act.categories = {"gelu", "relu", "swish"};
  Factor lr = range("lr", FactorKind::kContinuous, 1e-4, 1e-2);
  lr.scale = Scale::kLog;
  spec.factors = {ordinal("hidden_size", {512, 128, 256}), act,
                  range("layers", FactorKind::kInteger, 2, 6), lr};
  auto space = Space::build(spec).value();
  REQUIRE_FALSE(space.discrete());
  REQUIRE_FALSE(space.grid_size().has_value());

  REQUIRE(space.check({256, 1, 3, 1e-3}, "p").is_ok());
  REQUIRE(space.check({256, 1, 3}, "p").field() == "p");
  REQUIRE(space.check({300, 1, 3, 1e-3}, "p").field() == "p[0]");
  REQUIRE(space.check({256, 3, 3, 1e-3}, "p").field() == "p[1]");
  REQUIRE(space.check({256, 1, 2.5, 1e-3}, "p").field() == "p[2]");
  REQUIRE(space.check({256, 1, 3, 1.0}, "p").field() == "p[3]");
  REQUIRE(space.check({256, 1, 3, std::nan("")}, "p").field() == "p[3]");

  const Point canon = space.canonical({256.0000000001, 1, 3, 1e-3});
  REQUIRE(canon[0] == 256.0);

  const auto u = space.encode({128, 2, 6, 1e-3});
  REQUIRE(u[0] == Approx(0.0));
  REQUIRE(u[1] == Approx(2.5 / 3.0));
  REQUIRE(u[2] == Approx(1.0));
  REQUIRE(u[3] == Approx(0.5));  // log scale: 1e-3 is the geometric middle
  const Point back = space.decode(u);
  REQUIRE(Point(back.begin(), back.begin() + 3) == Point{128, 2, 6});
  REQUIRE(back[3] == Approx(1e-3));
  REQUIRE(space.centre() == Point{256, 1, 4, space.decode({0.5, 0.5, 0.5, 0.5})[3]});
  REQUIRE(space.centre()[3] == Approx(1e-3));

  Rng rng(7);
  for (int i = 0; i < 200; ++i) {
    const auto p = space.sample_valid(rng);
    REQUIRE(p.has_value());
    REQUIRE(space.check(*p, "p").is_ok());
  }
}

TEST_CASE("unit encoding round-trips every table 1 point", "[bo][space]") {
  auto space = Space::build(table1_space()).value();
  space.for_each([&](const Point& p) {
    const auto u = space.encode(p);
    for (double x : u) REQUIRE((x >= 0.0 && x <= 1.0));
    REQUIRE(space.decode(u) == p);
    return true;
  });
}

TEST_CASE("duplicate ordinal values are found in large factors, naming the later one",
          "[bo][space]") {
  // 200,000 values: the check sorts (O(n log n)); a pairwise scan took
  // 15-35 s of the daemon's event loop (issue #11, item 4).
  std::vector<double> values;
  for (int v = 0; v < 200000; ++v) values.push_back(200000 - v);
  DesignSpace s;
  s.factors = {ordinal("w", values)};
  CHECK(build_status(s));
  s.factors[0].values.push_back(17);  // equal to values[199983]
  Status dup = build_status(s);
  CHECK(dup.field() == "factors[0].values[200000]");
  // Within 1e-9 counts as equal; the first value equal to an earlier one is named.
  s.factors = {ordinal("w", {3, 1, 2, 1 + 1e-12, 3})};
  CHECK(build_status(s).field() == "factors[0].values[3]");
  s.factors = {ordinal("w", {3, 1, 2, 1.001})};
  CHECK(build_status(s));
}
