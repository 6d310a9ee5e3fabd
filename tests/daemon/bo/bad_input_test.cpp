// Issue 3's bad-input items: non-finite values, all-equal and duplicate
// observations, and spaces whose every point violates the hard constraints.

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <set>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/space.hpp"

using namespace autodistill;
using namespace autodistill::bo;

namespace {

EngineConfig config_with(size_t objectives) {
  EngineConfig c;
  c.space = table1_space();
  c.objectives = {{"accuracy", true, false, std::nullopt},
                  {"latency_ms", false, true, std::nullopt},
                  {"memory_mb", false, false, std::nullopt}};
  c.objectives.resize(objectives);
  c.seed = 3;
  return c;
}

// `count` points spread over the space (every 7th in grid order).
std::vector<Point> spread_points(const EngineConfig& c, size_t count) {
  auto space = Space::build(c.space).value();
  std::vector<Point> out;
  size_t index = 0;
  space.for_each([&](const Point& p) {
    if (index++ % 7 == 0) out.push_back(p);
    return out.size() < count;
  });
  return out;
}

}  // namespace

TEST_CASE("a space whose every point violates the hard constraints is rejected", "[bo][engine]") {
  EngineConfig c = config_with(2);
  c.student = StudentSettings{};
  c.constraints = {{"params", Comparison::kLessEqual, 1000.0}};  // no student is that small
  for (uint64_t enumeration : {uint64_t{1000000}, uint64_t{100}}) {
    INFO("max_enumeration " << enumeration);  // 100 < 576: the space is sampled
    c.bo.max_enumeration = enumeration;
    const Status s = validate(c);
    REQUIRE(s.code() == Code::kInvalidArgument);
    REQUIRE(s.field() == "constraints");
    REQUIRE(s.message().find("hard constraints") != std::string::npos);
    auto engine = Engine::create(c);
    REQUIRE_FALSE(engine.is_ok());
    REQUIRE(engine.status().field() == "constraints");
  }
  // A bound that the smallest students meet is accepted.
  c.constraints[0].bound = 1e7;
  c.bo.max_enumeration = 1000000;
  REQUIRE(validate(c).is_ok());
}

TEST_CASE("non-finite values are rejected for every kind of metric", "[bo][engine]") {
  EngineConfig c = config_with(2);
  c.metrics = {{"memory_mb", false}};
  c.constraints = {{"memory_mb", Comparison::kLessEqual, 100.0}};
  auto engine = Engine::create(c);
  REQUIRE(engine.is_ok());
  const Point p = {24, 512, 128, 4, 512, 4};
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::map<std::string, double>, std::string>> bad = {
      {{{"accuracy", -inf}}, "values.accuracy"},
      {{{"latency_ms", nan}}, "values.latency_ms"},
      {{{"latency_ms", inf}}, "values.latency_ms"},
      {{{"latency_ms", -1.0}}, "values.latency_ms"},
      {{{"accuracy", 70.0}, {"memory_mb", nan}}, "values.memory_mb"},
  };
  for (const auto& [values, field] : bad) {
    INFO(field);
    const Status s = engine->observe(p, values);
    REQUIRE(s.code() == Code::kInvalidArgument);
    REQUIRE(s.field() == field);
  }
  Point nan_point = p;
  nan_point[2] = nan;
  REQUIRE(engine->observe(nan_point, {{"accuracy", 70.0}}).field() == "point[2]");
  REQUIRE(engine->observe_failure(nan_point).field() == "point[2]");
  REQUIRE(engine->num_events() == 0);
  REQUIRE(engine->points().empty());
}

TEST_CASE("all-equal and duplicate observations still give distinct new suggestions",
          "[bo][engine]") {
  for (size_t k = 1; k <= 3; ++k) {
    INFO(k << " objectives");
    EngineConfig c = config_with(k);
    auto engine = Engine::create(c);
    REQUIRE(engine.is_ok());
    const std::map<std::string, double> same = {
        {"accuracy", 70.0}, {"latency_ms", 0.5}, {"memory_mb", 40.0}};
    const std::vector<Point> seen = spread_points(c, 15);
    for (const auto& p : seen) REQUIRE(engine->observe(p, same).is_ok());
    for (int r = 0; r < 4; ++r) REQUIRE(engine->observe(seen.front(), same).is_ok());  // duplicates
    auto s = engine->suggest(4);
    REQUIRE(s.is_ok());
    REQUIRE(s->size() == 4);
    std::set<Point> distinct(s->begin(), s->end());
    REQUIRE(distinct.size() == 4);
    for (const auto& p : *s) REQUIRE(std::find(seen.begin(), seen.end(), p) == seen.end());
    auto scores = engine->score(*s, {});
    REQUIRE(scores.is_ok());
    for (double v : *scores) REQUIRE(std::isfinite(v));
    REQUIRE(engine->points().size() == seen.size());
    REQUIRE(engine->pareto_indices().size() == seen.size());  // all equal: none dominated
  }
}

TEST_CASE("references at the baseline: checks, and the measured value as the reference",
          "[bo][engine]") {
  EngineConfig c = config_with(2);
  const Point baseline = {24, 512, 128, 4, 512, 4};
  SECTION("bad configurations name their field") {
    c.objectives[0].reference_at_baseline = true;
    CHECK(validate(c).field() == "objectives[0].reference_baseline");  // no baseline point
    c.baseline = Point{24, 512, 100, 4, 512, 4};
    CHECK(validate(c).field() == "baseline[2]");  // not a value of the factor
    c.baseline = baseline;
    CHECK(validate(c));
    c.objectives[0].reference = 70.0;
    CHECK(validate(c).field() == "objectives[0].reference_baseline");
    c.objectives[0].reference.reset();
    c.objectives[1].reference = -1.0;  // latency is log-transformed
    CHECK(validate(c).field() == "objectives[1].reference");
  }
  SECTION("the baseline comes besides the initial design, which still starts at the centre") {
    c.baseline = baseline;
    c.objectives[0].reference_at_baseline = true;
    auto engine = Engine::create(c).value();
    const Point centre = Space::build(c.space).value().centre();
    REQUIRE(centre != baseline);
    REQUIRE(*engine.suggest(1, {baseline}) == std::vector<Point>{centre});  // baseline pending
    REQUIRE(engine.observe(baseline, {{"accuracy", 70.0}, {"latency_ms", 0.8}}));
    REQUIRE(*engine.suggest(1) == std::vector<Point>{centre});
  }
  SECTION("the baseline's measurements act as given references") {
    EngineConfig at = c, given = c, none = c;
    at.baseline = baseline;
    for (auto& o : at.objectives) o.reference_at_baseline = true;
    given.objectives[0].reference = 70.0;
    given.objectives[1].reference = 0.8;
    auto ea = Engine::create(at).value();
    auto eg = Engine::create(given).value();
    auto en = Engine::create(none).value();
    for (Engine* e : {&ea, &eg, &en}) {
      REQUIRE(e->observe(baseline, {{"accuracy", 70.0}, {"latency_ms", 0.8}}));
    }
    for (const Point& p : spread_points(c, 12)) {
      const double acc = 60 + p[1] / 64 + p[5], lat = 0.2 + p[1] * p[4] * p[5] / 1e6;
      for (Engine* e : {&ea, &eg, &en}) {
        REQUIRE(e->observe(p, {{"accuracy", acc}, {"latency_ms", lat}}));
      }
    }
    const auto sa = ea.suggest(4).value(), sg = eg.suggest(4).value();
    CHECK(sa == sg);
    const std::vector<Point> candidates = spread_points(c, 40);
    CHECK(ea.score(candidates).value() == eg.score(candidates).value());
    CHECK(ea.score(candidates).value() != en.score(candidates).value());
  }
}
