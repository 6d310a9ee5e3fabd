#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include <thread>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/space.hpp"
#include "table1_landscape.hpp"

using namespace autodistill;
using namespace autodistill::bo;

namespace {

EngineConfig table1_config(const std::string& algorithm = "bo", uint64_t seed = 1) {
  EngineConfig c;
  c.space = table1_space();
  c.objectives = {{"accuracy", true, false, std::nullopt},
                  {"latency_ms", false, true, std::nullopt}};
  c.algorithm = algorithm;
  c.seed = seed;
  return c;
}

std::map<std::string, double> evaluate(const Point& p) {
  return {{"accuracy", synthetic::accuracy(p)}, {"latency_ms", synthetic::latency_ms(p)}};
}

Engine make(const EngineConfig& c) {
  auto e = Engine::create(c);
  REQUIRE(e.is_ok());
  return std::move(e.value());
}

// Runs `steps` suggest(1)/observe rounds; returns the suggested points.
std::vector<Point> drive(Engine& engine, int steps) {
  std::vector<Point> out;
  for (int i = 0; i < steps; ++i) {
    auto s = engine.suggest(1);
    REQUIRE(s.is_ok());
    REQUIRE(s->size() == 1);
    REQUIRE(engine.observe(s->front(), evaluate(s->front())).is_ok());
    out.push_back(s->front());
  }
  return out;
}

std::string field_of(const EngineConfig& c) {
  const Status s = validate(c);
  REQUIRE_FALSE(s.is_ok());
  REQUIRE(s.code() == Code::kInvalidArgument);
  return s.field();
}

}  // namespace

TEST_CASE("validate accepts the table 1 study and rejects bad configs by field", "[bo][engine]") {
  REQUIRE(validate(table1_config()).is_ok());

  EngineConfig empty = table1_config();
  empty.space.factors.clear();
  REQUIRE(field_of(empty) == "factors");

  EngineConfig dup = table1_config();
  dup.space.factors[1].values = {128, 256, 256};
  REQUIRE(field_of(dup) == "factors[1].values[2]");

  EngineConfig nonpositive = table1_config();
  nonpositive.space.factors[2].values = {64, -96};
  REQUIRE(field_of(nonpositive) == "factors[2].values[1]");

  EngineConfig no_objective = table1_config();
  no_objective.objectives.clear();
  REQUIRE(field_of(no_objective) == "objectives");

  EngineConfig dup_objective = table1_config();
  dup_objective.objectives[1].name = "accuracy";
  REQUIRE(field_of(dup_objective) == "objectives[1].name");

  EngineConfig unknown = table1_config();
  unknown.constraints = {{"perplexity", Comparison::kLessEqual, 3.0}};
  REQUIRE(field_of(unknown) == "constraints[0].metric");

  EngineConfig analytic_without_student = table1_config();
  analytic_without_student.constraints = {{"params", Comparison::kLessEqual, 3e7}};
  REQUIRE(field_of(analytic_without_student) == "constraints[0].metric");

  EngineConfig contradictory = table1_config();
  contradictory.constraints = {{"latency_ms", Comparison::kLessEqual, 0.5},
                               {"latency_ms", Comparison::kGreaterEqual, 0.7}};
  REQUIRE(field_of(contradictory) == "constraints[1].bound");

  EngineConfig compatible = contradictory;
  compatible.constraints[1].bound = 0.3;
  REQUIRE(validate(compatible).is_ok());

  EngineConfig bad_bound = table1_config();
  bad_bound.constraints = {{"latency_ms", Comparison::kLessEqual, -1.0}};
  REQUIRE(field_of(bad_bound) == "constraints[0].bound");

  EngineConfig algorithm = table1_config("simulated-annealing");
  REQUIRE(field_of(algorithm) == "algorithm");

  EngineConfig all_infeasible = table1_config();
  all_infeasible.student = StudentSettings{};
  all_infeasible.constraints = {{"params", Comparison::kLessEqual, 1000.0}};
  REQUIRE(field_of(all_infeasible) == "constraints");

  EngineConfig no_rule_point = table1_config();
  no_rule_point.space.factors[3].values = {3};  // 3 heads divide neither 64 nor 128
  no_rule_point.space.factors[2].values = {64, 128};
  REQUIRE(field_of(no_rule_point) == "divisibility");

  EngineConfig missing_factor = table1_config();
  missing_factor.student = StudentSettings{};
  missing_factor.space.factors.erase(missing_factor.space.factors.begin());  // num_blocks
  REQUIRE(field_of(missing_factor) == "factors");

  EngineConfig bad_warm = table1_config();
  bad_warm.warm_start = {{{24, 512, 128, 4, 512, 5}, {{"accuracy", 1.0}}}};
  REQUIRE(field_of(bad_warm) == "warm_start[0].point[5]");

  EngineConfig bad_reference = table1_config();
  bad_reference.objectives[1].reference = 0.0;
  REQUIRE(field_of(bad_reference) == "objectives[1].reference");

  REQUIRE_FALSE(Engine::create(bad_warm).is_ok());
}

TEST_CASE("suggest(16) with pending points gives 16 distinct new points", "[bo][engine]") {
  for (const std::string algorithm : {"bo", "random", "firefly", "nsga2"}) {
    INFO(algorithm);
    Engine engine = make(table1_config(algorithm, 3));
    const auto evaluated = drive(engine, 30);
    auto pending = engine.suggest(10);
    REQUIRE(pending.is_ok());
    REQUIRE(pending->size() == 10);
    auto batch = engine.suggest(16, *pending);
    REQUIRE(batch.is_ok());
    REQUIRE(batch->size() == 16);
    std::vector<Point> reversed(pending->rbegin(), pending->rend());
    REQUIRE(*engine.suggest(16, reversed) == *batch);  // the order of pending does not matter
    std::set<Point> seen(evaluated.begin(), evaluated.end());
    seen.insert(pending->begin(), pending->end());
    const auto space = Space::build(table1_space()).value();
    for (const auto& p : *batch) {
      REQUIRE(space.check(p, "p").is_ok());
      REQUIRE(seen.insert(p).second);  // not evaluated, not pending, not repeated
    }
  }
}

TEST_CASE("hard constraints are never violated", "[bo][engine]") {
  for (const std::string algorithm : {"bo", "random", "firefly", "nsga2"}) {
    INFO(algorithm);
    EngineConfig c = table1_config(algorithm, 5);
    c.student = StudentSettings{};
    c.constraints = {{"params", Comparison::kLessEqual, 2.6e7}};
    Engine engine = make(c);
    for (const auto& p : drive(engine, 40)) REQUIRE(*engine.analytic_metric("params", p) <= 2.6e7);
    auto batch = engine.suggest(16);
    REQUIRE(batch.is_ok());
    for (const auto& p : *batch) REQUIRE(*engine.analytic_metric("params", p) <= 2.6e7);
  }
}

TEST_CASE("same seed and observations give the same suggestions, replay rebuilds the engine",
          "[bo][engine]") {
  for (const std::string algorithm : {"bo", "firefly", "nsga2", "random"}) {
    INFO(algorithm);
    Engine a = make(table1_config(algorithm, 9));
    const auto history = drive(a, 25);
    Engine b = make(table1_config(algorithm, 9));
    for (const auto& p : history)
      REQUIRE(b.observe(p, evaluate(p)).is_ok());  // replay, no suggest calls
    const auto next_a = a.suggest(4, {history[3]});
    const auto next_b = b.suggest(4, {history[3]});
    REQUIRE(next_a.is_ok());
    REQUIRE(*next_a == *next_b);
    Engine copy = a;
    REQUIRE(*copy.suggest(4, {history[3]}) == *next_a);
    Engine other_seed = make(table1_config(algorithm, 10));
    for (const auto& p : history) REQUIRE(other_seed.observe(p, evaluate(p)).is_ok());
    if (algorithm == "random") REQUIRE(*other_seed.suggest(4) != *a.suggest(4));
  }
}

TEST_CASE("the initial design starts at the centre point", "[bo][engine]") {
  Engine engine = make(table1_config());
  auto first = engine.suggest(1);
  REQUIRE(first.is_ok());
  REQUIRE(first->front() == Space::build(table1_space())->centre());
  auto design = engine.suggest(11);
  REQUIRE(design->front() == first->front());
  REQUIRE(std::set<Point>(design->begin(), design->end()).size() == 11);
}

TEST_CASE("partial observations: latency first, accuracy later", "[bo][engine]") {
  Engine engine = make(table1_config("bo", 2));
  drive(engine, 20);
  const Point a = {24, 384, 96, 2, 384, 2}, b = {24, 384, 96, 2, 384, 6};
  REQUIRE(engine.observe(a, {{"latency_ms", 5.0}}).is_ok());   // slower than everything
  REQUIRE(engine.observe(b, {{"latency_ms", 0.05}}).is_ok());  // faster than everything
  auto records = engine.points();
  REQUIRE_FALSE(records[20].complete);
  REQUIRE(records[20].values.count("latency_ms") == 1);
  REQUIRE(records[20].values.count("accuracy") == 0);
  // Probed candidates still count as candidates, ranked by what is known.
  auto scores = engine.score({a, b});
  REQUIRE(scores.is_ok());
  REQUIRE((*scores)[1] > (*scores)[0]);
  REQUIRE(std::isfinite((*scores)[0]));
  // Pareto set only holds complete points; b becomes complete later.
  for (size_t i : engine.pareto_indices()) REQUIRE(engine.points()[i].complete);
  REQUIRE(engine.observe(b, {{"accuracy", 80.0}}).is_ok());
  const auto front = engine.pareto_indices();
  REQUIRE(std::find(front.begin(), front.end(), size_t{21}) != front.end());
  REQUIRE(front.size() == 1);  // fastest and most accurate dominates everything
  auto next = engine.suggest(30);
  for (const auto& p : *next) REQUIRE(p != b);  // complete now: never again
}

TEST_CASE("the front reference is the believed front's nadir, not a dominated outlier",
          "[bo][engine]") {
  // A probed candidate whose latency is known to be 4x the slowest observed
  // point: beyond the front's nadir (minus 10 % of the front's range), so it
  // cannot add hypervolume whatever its accuracy. A dominated outlier (far
  // less accurate and 100x slower, as a degenerate or broken candidate)
  // would stretch a reference taken from the worst observed values past it.
  for (bool from_front : {true, false}) {
    EngineConfig c = table1_config("bo", 3);
    c.bo.reference_from_front = from_front;
    c.bo.front_reference_every = 0;  // the observed rule alone when !from_front
    Engine engine = make(c);
    drive(engine, 20);
    double slowest = 0.0, least_accurate = 100.0;
    for (const auto& r : engine.points()) {
      slowest = std::max(slowest, r.values.at("latency_ms"));
      least_accurate = std::min(least_accurate, r.values.at("accuracy"));
    }
    const Point outlier = {24, 128, 64, 1, 384, 2}, probed = {24, 512, 160, 8, 640, 6};
    for (const auto& r : engine.points()) REQUIRE((r.point != outlier && r.point != probed));
    REQUIRE(engine
                .observe(outlier,
                         {{"accuracy", least_accurate - 30.0}, {"latency_ms", 100.0 * slowest}})
                .is_ok());
    REQUIRE(engine.observe(probed, {{"latency_ms", 4.0 * slowest}}).is_ok());
    auto scores = engine.score({probed});
    REQUIRE(scores.is_ok());
    CAPTURE(from_front, (*scores)[0]);
    if (from_front) {
      REQUIRE((*scores)[0] == 0.0);
    } else {
      REQUIRE((*scores)[0] > 0.0);
    }
  }
}

TEST_CASE(
    "reference variants: a wide front margin is capped at the observed rule, a quantile "
    "ignores the worst observations",
    "[bo][engine]") {
  // The scenario above: a dominated outlier (100x slower than the slowest
  // point) stretches the observed rule's box past a probed candidate 4x
  // slower than the slowest point. Scores of a fixed candidate set under
  // each rule, after the same 20 evaluations and the same two observations.
  const Point outlier = {24, 128, 64, 1, 384, 2}, probed = {24, 512, 160, 8, 640, 6};
  auto scores = [&](const BoOptions& bo) {
    EngineConfig c = table1_config("bo", 3);
    c.bo = bo;
    Engine engine = make(c);
    drive(engine, 20);
    double slowest = 0.0, least_accurate = 100.0;
    for (const auto& r : engine.points()) {
      slowest = std::max(slowest, r.values.at("latency_ms"));
      least_accurate = std::min(least_accurate, r.values.at("accuracy"));
    }
    for (const auto& r : engine.points()) REQUIRE((r.point != outlier && r.point != probed));
    REQUIRE(engine
                .observe(outlier,
                         {{"accuracy", least_accurate - 30.0}, {"latency_ms", 100.0 * slowest}})
                .is_ok());
    REQUIRE(engine.observe(probed, {{"latency_ms", 4.0 * slowest}}).is_ok());
    auto s = engine.score({probed, {24, 256, 96, 2, 512, 4}, {24, 384, 128, 4, 640, 2}});
    REQUIRE(s.is_ok());
    return *s;
  };
  BoOptions observed;
  observed.front_reference_every = 0;  // the observed rule alone
  const std::vector<double> base = scores(observed);
  REQUIRE(base[0] > 0.0);
  // The default engine does not read the variants' knobs.
  BoOptions knobs_only = observed;
  knobs_only.front_reference_margin = 0.7;
  knobs_only.front_reference_gap = true;
  knobs_only.front_reference_layers = 2;
  REQUIRE(scores(knobs_only) == base);
  // A front margin far wider than the observed box: capped at the observed
  // rule in every objective, so the same scores.
  BoOptions wide = observed;
  wide.reference_from_front = true;
  wide.front_reference_margin = 100.0;
  REQUIRE(scores(wide) == base);
  // The front rule over every non-dominated layer: the observed rule on the
  // believed (posterior-mean) values instead of the measured ones, so the
  // outlier stretches the box again: nearly the observed rule's scores.
  BoOptions layers = observed;
  layers.reference_from_front = true;
  layers.front_reference_layers = 1000;
  const std::vector<double> layer_scores = scores(layers);
  for (size_t i = 0; i < base.size(); ++i)
    REQUIRE(layer_scores[i] == Approx(base[i]).epsilon(0.01));
  // The narrow front rule, its gap variant, and a 10 % quantile of the
  // observations (the outlier is 1 of 22): the probed candidate lies beyond
  // the reference and adds nothing.
  BoOptions narrow = observed;
  narrow.reference_from_front = true;
  REQUIRE(scores(narrow)[0] == 0.0);
  BoOptions gap = narrow;
  gap.front_reference_gap = true;
  const std::vector<double> gap_scores = scores(gap);
  CAPTURE(gap_scores);
  REQUIRE(gap_scores[0] == 0.0);
  BoOptions q10 = observed;
  q10.observed_reference_quantile = 0.1;
  const std::vector<double> q10_scores = scores(q10);
  CAPTURE(q10_scores);
  REQUIRE(q10_scores[0] == 0.0);
  REQUIRE(q10_scores != base);
}

TEST_CASE(
    "reference portfolios: every k-th suggestion on the front rule, or both rules' EHVI "
    "summed",
    "[bo][engine]") {
  // The scenario above: the probed candidate lies inside the observed rule's
  // box but beyond the front rule's; the other two candidates lie inside
  // both. 20 evaluations (made by a default engine and replayed, since the
  // options change the suggestions) + the outlier = 21 complete points.
  const Point outlier = {24, 128, 64, 1, 384, 2}, probed = {24, 512, 160, 8, 640, 6};
  std::vector<Point> history;
  {
    Engine driver = make(table1_config("bo", 3));
    history = drive(driver, 20);
  }
  auto scores = [&](const BoOptions& bo) {
    EngineConfig c = table1_config("bo", 3);
    c.bo = bo;
    Engine engine = make(c);
    for (const Point& p : history) REQUIRE(engine.observe(p, evaluate(p)).is_ok());
    double slowest = 0.0, least_accurate = 100.0;
    for (const auto& r : engine.points()) {
      slowest = std::max(slowest, r.values.at("latency_ms"));
      least_accurate = std::min(least_accurate, r.values.at("accuracy"));
    }
    REQUIRE(engine
                .observe(outlier,
                         {{"accuracy", least_accurate - 30.0}, {"latency_ms", 100.0 * slowest}})
                .is_ok());
    REQUIRE(engine.observe(probed, {{"latency_ms", 4.0 * slowest}}).is_ok());
    size_t complete = 0;
    for (const auto& r : engine.points()) complete += r.complete ? 1 : 0;
    REQUIRE(complete == 21);
    auto s = engine.score({probed, {24, 256, 96, 2, 512, 4}, {24, 384, 128, 4, 640, 2}});
    REQUIRE(s.is_ok());
    return *s;
  };
  BoOptions observed;
  observed.front_reference_every = 0;  // the observed rule alone
  BoOptions front = observed;
  front.reference_from_front = true;
  const std::vector<double> base = scores(observed), narrow = scores(front);
  CAPTURE(base, narrow);
  REQUIRE(base[0] > 0.0);
  REQUIRE(narrow[0] == 0.0);
  REQUIRE(narrow[1] > 0.0);
  // Every k-th: 21 complete points, so k = 3 and 7 use the front rule, k = 2
  // and 4 the observed one.
  for (size_t k : {size_t{3}, size_t{7}}) {
    BoOptions every = observed;
    every.front_reference_every = k;
    REQUIRE(scores(every) == narrow);
  }
  for (size_t k : {size_t{2}, size_t{4}}) {
    BoOptions every = observed;
    every.front_reference_every = k;
    REQUIRE(scores(every) == base);
  }
  // The weighted sum: observed EHVI + w * front EHVI, candidate by candidate.
  for (double w : {0.5, 2.0}) {
    BoOptions sum = observed;
    sum.front_reference_weight = w;
    const std::vector<double> summed = scores(sum);
    CAPTURE(w, summed);
    REQUIRE(summed[0] == base[0]);  // beyond the front box: no extra credit
    for (size_t i = 1; i < base.size(); ++i) {
      REQUIRE(summed[i] == Approx(base[i] + w * narrow[i]).epsilon(1e-9));
      REQUIRE(summed[i] > base[i]);
    }
  }
}

TEST_CASE("the default alternates the observed and the front rule and score can take the widest",
          "[bo][engine]") {
  // The scenario above (a dominated outlier stretches the observed rule's box
  // past a probed candidate 4x slower than the slowest point), with the
  // default options: with an odd number of complete points the observed rule
  // applies (the probed candidate can add hypervolume), with an even number
  // the front rule (it cannot). front_reference_every = 0 turns the front
  // rule's turns off.
  const Point outlier = {24, 128, 64, 1, 384, 2}, probed = {24, 512, 160, 8, 640, 6};
  auto probed_score = [&](const BoOptions& bo, int evaluations,
                          Engine::ScoreReference reference = Engine::ScoreReference::kSuggestion) {
    EngineConfig c = table1_config("bo", 3);
    c.bo = bo;
    Engine engine = make(c);
    drive(engine, evaluations);
    double slowest = 0.0, least_accurate = 100.0;
    for (const auto& r : engine.points()) {
      slowest = std::max(slowest, r.values.at("latency_ms"));
      least_accurate = std::min(least_accurate, r.values.at("accuracy"));
    }
    for (const auto& r : engine.points()) REQUIRE((r.point != outlier && r.point != probed));
    REQUIRE(engine
                .observe(outlier,
                         {{"accuracy", least_accurate - 30.0}, {"latency_ms", 100.0 * slowest}})
                .is_ok());
    REQUIRE(engine.observe(probed, {{"latency_ms", 4.0 * slowest}}).is_ok());
    size_t complete = 0;
    for (const auto& r : engine.points()) complete += r.complete ? 1 : 0;
    REQUIRE(complete == static_cast<size_t>(evaluations) + 1);
    auto s = engine.score({probed}, {}, reference);
    REQUIRE(s.is_ok());
    return (*s)[0];
  };
  const BoOptions defaults;
  BoOptions off = defaults;
  off.front_reference_every = 0;
  CHECK(probed_score(defaults, 20) > 0.0);   // 21 complete: the observed rule's turn
  CHECK(probed_score(defaults, 21) == 0.0);  // 22 complete: the front rule's turn
  CHECK(probed_score(off, 21) > 0.0);        // off: the observed rule every time
  // The widest reference (the daemon's test for a hopeless candidate) is the
  // observed rule's on every turn: the front turn's 0 is not "hopeless".
  CHECK(probed_score(defaults, 21, Engine::ScoreReference::kWidest) > 0.0);
  CHECK(probed_score(defaults, 20, Engine::ScoreReference::kWidest) == probed_score(defaults, 20));
}

TEST_CASE("failed and evaluated points are never suggested, a small space runs out",
          "[bo][engine]") {
  for (const std::string algorithm : {"bo", "random", "firefly", "nsga2"}) {
    INFO(algorithm);
    EngineConfig c = table1_config(algorithm);
    c.space.factors[1].values = {128, 256};
    c.space.factors[2].values = {64};
    c.space.factors[3].values = {1, 2};
    c.space.factors[4].values = {384};
    c.space.factors[5].values = {2};  // 4 points
    c.population = 2;
    Engine engine = make(c);
    REQUIRE(engine.observe_failure({24, 128, 64, 1, 384, 2}).is_ok());
    REQUIRE(
        engine.observe({24, 256, 64, 2, 384, 2}, {{"accuracy", 60}, {"latency_ms", 0.3}}).is_ok());
    auto rest = engine.suggest(10);
    REQUIRE(rest.is_ok());
    REQUIRE(rest->size() == 2);
    for (const auto& p : *rest) {
      REQUIRE(p != Point{24, 128, 64, 1, 384, 2});
      REQUIRE(p != Point{24, 256, 64, 2, 384, 2});
    }
    REQUIRE(engine.suggest(10, *rest)->empty());
  }
}

TEST_CASE("bad observations are rejected without changing the engine", "[bo][engine]") {
  Engine engine = make(table1_config());
  const Point p = {24, 512, 128, 4, 512, 4};
  Status s = engine.observe(p, {{"accuracy", std::nan("")}, {"latency_ms", 0.5}});
  REQUIRE(s.code() == Code::kInvalidArgument);
  REQUIRE(s.field() == "values.accuracy");
  s = engine.observe(p, {{"accuracy", 70.0}, {"latency_ms", 0.0}});
  REQUIRE(s.field() == "values.latency_ms");
  s = engine.observe(p, {{"accuracy", std::numeric_limits<double>::infinity()}});
  REQUIRE(s.field() == "values.accuracy");
  s = engine.observe({24, 500, 128, 4, 512, 4}, {{"accuracy", 70.0}});
  REQUIRE(s.field() == "point[1]");
  s = engine.observe({24, 512}, {{"accuracy", 70.0}});
  REQUIRE(s.field() == "point");
  REQUIRE(engine.num_events() == 0);
  REQUIRE(engine.points().empty());
  auto bad_pending = engine.suggest(2, {{1, 2, 3}});
  REQUIRE(bad_pending.status().field() == "pending[0]");
  // Unknown metric names are ignored.
  REQUIRE(engine.observe(p, {{"accuracy", 70.0}, {"loss", 1.2}}).is_ok());
  REQUIRE(engine.num_events() == 1);
}

TEST_CASE("degenerate data: repeated points and equal objectives", "[bo][engine]") {
  Engine engine = make(table1_config());
  const Point p = {24, 512, 128, 4, 512, 4}, q = {24, 128, 64, 1, 384, 2};
  for (int i = 0; i < 5; ++i) {
    REQUIRE(engine.observe(p, {{"accuracy", 70.0}, {"latency_ms", 0.5}}).is_ok());
    REQUIRE(engine.observe(q, {{"accuracy", 70.0}, {"latency_ms", 0.5}}).is_ok());
  }
  auto s = engine.suggest(8);
  REQUIRE(s.is_ok());
  REQUIRE(s->size() == 8);
  REQUIRE(engine.points().size() == 2);
  REQUIRE(engine.points()[0].values.at("accuracy") == 70.0);
  REQUIRE(engine.pareto_indices().size() == 2);  // equal points: both non-dominated
}

TEST_CASE("copies share fitted models without mixing up their data", "[bo][engine]") {
  Engine a = make(table1_config("bo", 12));
  const auto history = drive(a, 24);
  const auto before = a.suggest(3);
  REQUIRE(before.is_ok());

  // A copy that diverges: extra observations only it has seen.
  Engine b = a;
  REQUIRE(b.observe({24, 128, 64, 8, 640, 6}, {{"accuracy", 75.0}, {"latency_ms", 0.2}}).is_ok());
  REQUIRE(b.observe({24, 512, 160, 8, 384, 2}, {{"accuracy", 40.0}, {"latency_ms", 3.0}}).is_ok());
  Engine fresh = make(table1_config("bo", 12));
  for (const auto& r : b.points()) REQUIRE(fresh.observe(r.point, r.values).is_ok());
  REQUIRE(*b.suggest(3) == *fresh.suggest(3));
  REQUIRE(*a.suggest(3) == *before);

  // Concurrent const calls on one engine agree with a sequential call.
  std::vector<Point> results[2];
  std::thread t1([&] { results[0] = *b.suggest(4); });
  std::thread t2([&] { results[1] = *b.suggest(4); });
  t1.join();
  t2.join();
  REQUIRE(results[0] == results[1]);
  REQUIRE(results[0] == *fresh.suggest(4));
}

TEST_CASE("prefit computes deferred fits without changing any suggestion", "[bo][engine]") {
  // Past refit_every_until the engine uses fits made refit_lag of the data
  // ago; prefit() computes them early (the daemon does so in the
  // background). A study with prefit() between its calls, one without, a
  // copy whose prefit() runs concurrently with suggest(), and an engine that
  // replays the observations at once all suggest the same points.
  EngineConfig c = table1_config("bo", 4);
  c.bo.refit_every_until = 10;  // reach the lagged schedule within a few rounds
  c.bo.refit_growth = 1.15;
  Engine with = make(c), without = make(c);
  std::vector<Point> history;
  for (int i = 0; i < 32; ++i) {
    const auto a = with.suggest(1);
    const auto b = without.suggest(1);
    REQUIRE(a.is_ok());
    REQUIRE(*a == *b);
    history.push_back(a->front());
    REQUIRE(with.observe(a->front(), evaluate(a->front())).is_ok());
    REQUIRE(without.observe(a->front(), evaluate(a->front())).is_ok());
    Engine copy = with;
    std::thread background([&copy] { copy.prefit(); });
    const auto during = with.suggest(2);
    background.join();
    REQUIRE(*during == *without.suggest(2));
  }
  Engine replayed = make(c);
  for (const auto& p : history) REQUIRE(replayed.observe(p, evaluate(p)).is_ok());
  REQUIRE(*replayed.suggest(3) == *with.suggest(3));
  c.bo.refit_lag = 1.0;
  CHECK(validate(c).field() == "bo.refit_lag");
}

TEST_CASE("the evolutionary search ranks its generations on a subset model", "[bo][engine]") {
  EngineConfig bad = table1_config();
  bad.bo.search_model_points = 1;
  REQUIRE(field_of(bad) == "bo.search_model_points");

  // 576 points > exhaustive_limit: the evolutionary search proposes the candidates.
  const Space space = Space::build(table1_space()).value();
  auto check = [&](size_t search_points) {
    EngineConfig c = table1_config("bo", 4);
    c.bo.exhaustive_limit = 50;
    c.bo.evolution_population = 32;
    c.bo.evolution_generations = 3;
    c.bo.search_model_points = search_points;
    Engine engine = make(c);
    const auto seen = drive(engine, 30);
    auto s = engine.suggest(4);
    REQUIRE(s.is_ok());
    REQUIRE(*s == *engine.suggest(4));  // deterministic
    REQUIRE(std::set<Point>(s->begin(), s->end()).size() == 4);
    for (const auto& p : *s) {
      REQUIRE(space.satisfies_rules(p));
      REQUIRE(std::find(seen.begin(), seen.end(), p) == seen.end());
    }
  };
  check(8);    // 30 distinct points > 8: the generations use subset models
  check(300);  // no subset: the generations use the full models
}

TEST_CASE("a cancelled suggest returns kCancelled, an unset flag changes nothing", "[bo][engine]") {
  Engine engine = make(table1_config());
  drive(engine, 12);  // past the initial design: the BO path with models
  std::atomic<bool> cancel{false};
  auto plain = engine.suggest(4);
  auto with_flag = engine.suggest(4, {}, &cancel);
  REQUIRE(plain);
  REQUIRE(with_flag);
  CHECK(plain.value() == with_flag.value());
  cancel = true;
  for (const std::string algorithm : {"bo", "random", "firefly", "nsga2"}) {
    INFO(algorithm);
    Engine e = make(table1_config(algorithm));
    drive(e, 25);
    auto cancelled = e.suggest(8, {}, &cancel);
    REQUIRE_FALSE(cancelled);
    CHECK(cancelled.status().code() == Code::kCancelled);
  }
}
