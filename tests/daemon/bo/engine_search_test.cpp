// Search behaviour of the engine on synthetic problems: BO against random
// search, warm start, measured constraints, 3 objectives, and a space too
// large to enumerate (evolutionary acquisition search).

#include <catch2/catch.hpp>
#include <cmath>

#include "autodistill/bo/engine.hpp"
#include "autodistill/bo/pareto.hpp"
#include "autodistill/bo/space.hpp"
#include "table1_landscape.hpp"

using namespace autodistill;
using namespace autodistill::bo;

namespace {

EngineConfig table1_config(const std::string& algorithm, uint64_t seed) {
  EngineConfig c;
  c.space = table1_space();
  c.objectives = {{"accuracy", true, false, std::nullopt},
                  {"latency_ms", false, true, std::nullopt}};
  c.algorithm = algorithm;
  c.seed = seed;
  return c;
}

std::map<std::string, double> evaluate(const Point& p, double accuracy_shift = 0.0) {
  return {{"accuracy", synthetic::accuracy(p) + accuracy_shift},
          {"latency_ms", synthetic::latency_ms(p)}};
}

// Evaluations until `count` points dominating the MobileBERT-like reference
// were found (max_iter + 1 if not).
int evaluations_to_find(const EngineConfig& config, int count, int max_iter) {
  auto engine = Engine::create(config);
  REQUIRE(engine.is_ok());
  int found = 0;
  for (int it = 1; it <= max_iter; ++it) {
    auto s = engine->suggest(1);
    REQUIRE(s.is_ok());
    REQUIRE(s->size() == 1);
    REQUIRE(engine->observe(s->front(), evaluate(s->front())).is_ok());
    if (synthetic::dominates_reference(s->front()) && ++found == count) return it;
  }
  return max_iter + 1;
}

double mean_evaluations(const std::string& algorithm, int count, int max_iter) {
  double total = 0;
  for (uint64_t seed = 1; seed <= 4; ++seed)
    total += evaluations_to_find(table1_config(algorithm, seed), count, max_iter);
  return total / 4;
}

}  // namespace

TEST_CASE("BO finds better-than-reference students much sooner than random search",
          "[bo][search]") {
  // 6 of the 576 synthetic architectures dominate the reference: random search
  // needs 577/7 = 82 evaluations on average for the first and 247 for the third.
  const double bo_first = mean_evaluations("bo", 1, 300);
  const double bo_third = mean_evaluations("bo", 3, 300);
  const double random_first = mean_evaluations("random", 1, 300);
  const double random_third = mean_evaluations("random", 3, 300);
  INFO("bo " << bo_first << " / " << bo_third << ", random " << random_first << " / "
             << random_third);
  REQUIRE(bo_first <= 0.4 * random_first);
  REQUIRE(bo_third <= 0.5 * random_third);
}

TEST_CASE("a warm start from an earlier study saves evaluations", "[bo][search]") {
  // The earlier study saw 120 random architectures of a landscape whose
  // accuracy was 1.5 points lower (the previous teacher).
  auto space = Space::build(table1_space()).value();
  Rng rng(77);
  std::vector<Observation> earlier;
  for (int i = 0; i < 120; ++i) {
    const Point p = *space.sample_valid(rng);
    earlier.push_back({p, evaluate(p, -1.5)});
  }
  double cold = 0, warm = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    EngineConfig c = table1_config("bo", seed);
    cold += evaluations_to_find(c, 3, 300);
    c.warm_start = earlier;
    warm += evaluations_to_find(c, 3, 300);
  }
  INFO("cold " << cold / 3 << " warm " << warm / 3);
  REQUIRE(warm <= 0.6 * cold);
}

TEST_CASE("a measured latency constraint steers BO to feasible candidates", "[bo][search]") {
  EngineConfig c = table1_config("bo", 4);
  c.constraints = {{"latency_ms", Comparison::kLessEqual, 0.6}};
  auto engine = Engine::create(c);
  REQUIRE(engine.is_ok());
  auto space = Space::build(table1_space()).value();
  int feasible_share = 0, total = 0;
  space.for_each([&](const Point& p) {
    feasible_share += synthetic::latency_ms(p) <= 0.6 ? 1 : 0;
    ++total;
    return true;
  });
  int feasible = 0, after_design = 0;
  for (int it = 0; it < 50; ++it) {
    auto s = engine->suggest(1);
    REQUIRE(engine->observe(s->front(), evaluate(s->front())).is_ok());
    if (it >= 20) {
      ++after_design;
      feasible += synthetic::latency_ms(s->front()) <= 0.6 ? 1 : 0;
    }
  }
  const double share = static_cast<double>(feasible_share) / total;
  INFO("feasible share of the space " << share << ", of BO suggestions "
                                      << double(feasible) / after_design);
  REQUIRE(static_cast<double>(feasible) / after_design >= std::max(0.8, share + 0.3));
  for (size_t i : engine->pareto_indices())
    REQUIRE(engine->points()[i].values.at("latency_ms") <= 0.6);
}

TEST_CASE("three objectives: exact EHVI beats random search on hypervolume", "[bo][search]") {
  auto run = [](const std::string& algorithm, uint64_t seed) {
    EngineConfig c = table1_config(algorithm, seed);
    c.objectives.push_back({"size_m", false, false, std::nullopt});
    auto engine = Engine::create(c);
    REQUIRE(engine.is_ok());
    std::vector<Objectives> seen;
    for (int it = 0; it < 40; ++it) {
      auto s = engine->suggest(1);
      REQUIRE(s->size() == 1);
      const Point& p = s->front();
      const double size = p[1] * p[2] * 1e-4 + p[2] * p[4] * p[5] * 1e-5;
      auto values = evaluate(p);
      values["size_m"] = size;
      REQUIRE(engine->observe(p, values).is_ok());
      seen.push_back({values["accuracy"], -values["latency_ms"], -size});
    }
    return hypervolume(seen, {60.0, -2.0, -10.0});
  };
  double bo = 0, random = 0;
  for (uint64_t seed = 1; seed <= 2; ++seed) {
    bo += run("bo", seed);
    random += run("random", seed);
  }
  INFO("bo " << bo << " random " << random);
  REQUIRE(bo > random);
}

TEST_CASE("continuous and large spaces use the evolutionary acquisition search", "[bo][search]") {
  // ZDT1 on 4 continuous variables plus a categorical switch that costs f2.
  EngineConfig c;
  for (int i = 0; i < 4; ++i) {
    Factor f;
    f.name = "x" + std::to_string(i);
    f.kind = FactorKind::kContinuous;
    f.low = 0.0;
    f.high = 1.0;
    c.space.factors.push_back(f);
  }
  Factor mode;
  mode.name = "mode";
  mode.kind = FactorKind::kCategorical;
  mode.categories = {"good", "bad"};
  c.space.factors.push_back(mode);
  c.objectives = {{"f1", false, false, std::nullopt}, {"f2", false, false, std::nullopt}};
  c.bo.evolution_population = 64;
  c.bo.evolution_generations = 4;
  auto zdt1 = [](const Point& x) {
    double g = 1.0;
    for (int i = 1; i < 4; ++i) g += 9.0 * x[i] / 3.0;
    const double f2 = g * (1.0 - std::sqrt(x[0] / g)) + (x[4] == 1.0 ? 1.0 : 0.0);
    return std::map<std::string, double>{{"f1", x[0]}, {"f2", f2}};
  };
  auto run = [&](const std::string& algorithm) {
    c.algorithm = algorithm;
    auto engine = Engine::create(c);
    REQUIRE(engine.is_ok());
    std::vector<Objectives> seen;
    for (int it = 0; it < 12; ++it) {
      auto s = engine->suggest(3);
      REQUIRE(s->size() == 3);
      for (const auto& p : *s) {
        const auto v = zdt1(p);
        REQUIRE(engine->observe(p, v).is_ok());
        seen.push_back({-v.at("f1"), -v.at("f2")});
      }
    }
    return hypervolume(seen, {-1.1, -11.0});
  };
  const double bo = run("bo");
  const double random = run("random");
  INFO("bo " << bo << " random " << random);
  REQUIRE(bo > random);
}

TEST_CASE("search_pool: only the search's best points are scored on the full models",
          "[bo][search]") {
  // A 20^4-point grid (> exhaustive_limit) with two objectives; the same 40
  // observations replayed into engines that differ only in the pool.
  EngineConfig c;
  for (int i = 0; i < 4; ++i) {
    Factor f;
    f.name = "x" + std::to_string(i);
    for (int l = 0; l < 20; ++l) f.values.push_back(l / 19.0);
    c.space.factors.push_back(f);
  }
  c.objectives = {{"f1", false, false, std::nullopt}, {"f2", false, false, std::nullopt}};
  c.bo.evolution_population = 64;
  c.bo.evolution_generations = 3;
  auto f = [](const Point& x) {
    const double g = 1.0 + 3.0 * (x[1] + x[2] + x[3]);
    return std::map<std::string, double>{{"f1", x[0]}, {"f2", g * (1.0 - std::sqrt(x[0] / g))}};
  };
  std::vector<Point> history;
  {
    c.algorithm = "random";
    auto driver = Engine::create(c);
    REQUIRE(driver.is_ok());
    auto s = driver->suggest(40);
    REQUIRE(s->size() == 40);
    history = *s;
  }
  c.algorithm = "bo";
  auto suggestions = [&](size_t pool, size_t search_points, size_t batch, uint64_t seed = 0) {
    EngineConfig cc = c;
    cc.seed = seed;
    cc.bo.search_pool = pool;
    cc.bo.search_model_points = search_points;
    auto engine = Engine::create(cc);
    REQUIRE(engine.is_ok());
    for (const Point& p : history) REQUIRE(engine->observe(p, f(p)).is_ok());
    auto s = engine->suggest(batch);
    REQUIRE(s.is_ok());
    REQUIRE(s->size() == batch);
    return *s;
  };
  // The whole population (0, or as large) is the default.
  REQUIRE(suggestions(64, 300, 3) == suggestions(0, 300, 3));
  // With the search ranked on the full models (40 points <= 300), the best
  // of the search is the best on the full models: a pool of one suggests
  // the same point; a batch still gets its size from the pool.
  REQUIRE(suggestions(1, 300, 1) == suggestions(0, 300, 1));
  REQUIRE(suggestions(1, 300, 3) == suggestions(3, 300, 3));
  // Ranked on 5-point subset models, the subset's best is not always the
  // full models' best: with a pool of one the subset's choice stands.
  int differ = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed)
    differ += suggestions(1, 5, 1, seed) != suggestions(0, 5, 1, seed) ? 1 : 0;
  REQUIRE(differ > 0);
}

TEST_CASE("one objective: expected improvement finds the most accurate student", "[bo][search]") {
  auto space = Space::build(table1_space()).value();
  double best = -1e9;
  space.for_each([&](const Point& p) {
    best = std::max(best, synthetic::accuracy(p));
    return true;
  });
  double bo_total = 0, random_total = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    for (const std::string algorithm : {"bo", "random"}) {
      EngineConfig c = table1_config(algorithm, seed);
      c.objectives = {{"accuracy", true, false, std::nullopt}};
      auto engine = Engine::create(c);
      REQUIRE(engine.is_ok());
      int it = 1;
      for (; it <= 576; ++it) {
        const Point p = engine->suggest(1)->front();
        REQUIRE(engine->observe(p, {{"accuracy", synthetic::accuracy(p)}}).is_ok());
        if (synthetic::accuracy(p) >= best - 0.2) break;
      }
      (algorithm == "bo" ? bo_total : random_total) += it;
    }
  }
  INFO("bo " << bo_total / 3 << " random " << random_total / 3);
  REQUIRE(bo_total <= 0.4 * random_total);
}

TEST_CASE("a best value measured at many points bounds the hypervolume", "[bo][search]") {
  // f1 = max(0, 0.5 - x0) has a floor at 0 on the half x0 >= 0.5, where
  // f2 = x0 + (x1 - 0.5)^2 makes every point but (0.5, 0.5) dominated. The GP
  // cannot represent the floor and predicts f1 slightly below 0 there; with
  // the bound, EHVI no longer rewards that as improvement.
  // The reference is the worst observed values (the default): the front's
  // nadir (BoOptions::reference_from_front) already puts the face beyond the
  // reference (checked at the end).
  EngineConfig c;
  for (const char* name : {"x0", "x1"}) {
    Factor f;
    f.name = name;
    f.kind = FactorKind::kOrdinal;
    for (int i = 0; i <= 8; ++i) f.values.push_back(i / 8.0);
    c.space.factors.push_back(f);
  }
  c.objectives = {{"f1", false, false, std::nullopt}, {"f2", false, false, std::nullopt}};
  auto evaluate = [](const Point& x) {
    return std::map<std::string, double>{{"f1", std::max(0.0, 0.5 - x[0])},
                                         {"f2", x[0] + (x[1] - 0.5) * (x[1] - 0.5)}};
  };
  std::vector<Point> candidates, face;
  auto scores = [&](bool bound) {
    c.bo.bound_repeated_best = bound;
    auto engine = Engine::create(c);
    REQUIRE(engine.is_ok());
    candidates.clear();
    face.clear();
    for (int i = 0; i <= 8; ++i) {
      for (int j = 0; j <= 8; ++j) {
        const Point p = {i / 8.0, j / 8.0};
        if (i % 2 == 0 && j % 2 == 0) {
          REQUIRE(engine->observe(p, evaluate(p)).is_ok());
        } else {
          candidates.push_back(p);
        }
      }
    }
    auto s = engine->score(candidates, {});
    REQUIRE(s.is_ok());
    return *s;
  };
  const std::vector<double> bounded = scores(true);
  const std::vector<double> unbounded = scores(false);
  double face_bounded = 0.0, face_unbounded = 0.0, best_bounded = 0.0, best_unbounded = 0.0;
  size_t top = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    REQUIRE(bounded[i] <= unbounded[i] + 1e-12);
    if (bounded[i] > bounded[top]) top = i;
    if (candidates[i][0] > 0.5) {
      face_bounded = std::max(face_bounded, bounded[i]);
      face_unbounded = std::max(face_unbounded, unbounded[i]);
    } else {
      best_bounded = std::max(best_bounded, bounded[i]);
      best_unbounded = std::max(best_unbounded, unbounded[i]);
    }
  }
  INFO("face " << face_bounded << " vs " << face_unbounded << "; elsewhere " << best_bounded
               << " vs " << best_unbounded);
  CHECK(face_unbounded > 0.05);  // without the bound, the floor looks like an improvement
  CHECK(face_bounded < 0.1 * face_unbounded);
  CHECK(candidates[top][0] < 0.5);
  CHECK(best_bounded > 0.0);
  // With the front's nadir as the reference the face scores nothing, bound or not.
  c.bo.reference_from_front = true;
  const std::vector<double> from_front = scores(false);
  double face_from_front = 0.0, best_from_front = 0.0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i][0] > 0.5) {
      face_from_front = std::max(face_from_front, from_front[i]);
    } else {
      best_from_front = std::max(best_from_front, from_front[i]);
    }
  }
  CHECK(face_from_front == 0.0);
  CHECK(best_from_front > 0.0);
}
