#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <set>

#include "autodistill/daemon/proposer.hpp"
#include "spec_builder.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::distill_spec;
using autodistill::testing::external_spec;

TEST_CASE("proposer: random search draws every factor value", "[proposer]") {
  auto spec = external_spec(100);
  spec.algorithm = "random";
  auto codec = std::make_unique<wire::FactorT>();
  codec->name = "codec";
  codec->kind = wire::FactorKind::Categorical;
  codec->categories = {"zstd", "lz4"};
  spec.factors.push_back(std::move(codec));
  auto proposer = make_proposer(spec, 1);
  REQUIRE(proposer);
  std::map<std::string, int> categories;
  std::set<double> widths;
  double lo = 1, hi = 0;
  for (const Params& p : proposer->propose(100)) {
    REQUIRE(p.size() == 3);
    lo = std::min(lo, p[0].number);
    hi = std::max(hi, p[0].number);
    widths.insert(p[1].number);
    categories[p[2].category]++;
  }
  CHECK(widths == std::set<double>{64, 128, 256});
  CHECK(categories["zstd"] > 20);
  CHECK(categories["lz4"] > 20);
  CHECK(lo >= 0);
  CHECK(hi <= 1);
  CHECK(hi - lo > 0.5);
}

TEST_CASE("proposer: a pending candidate is never proposed twice", "[proposer]") {
  auto algorithm = GENERATE(std::string("random"), std::string("bo"), std::string("nsga2"));
  INFO(algorithm);
  auto spec = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
  spec.algorithm = algorithm;
  auto proposer = make_proposer(spec, 1);
  REQUIRE(proposer);
  // 2^6 = 64 points, minus those where heads do not divide the bottleneck (none here).
  std::set<std::string> seen;
  auto first = proposer->propose(40);
  auto known = make_proposer(spec, 1);
  REQUIRE(known);
  for (const Params& p : first) {
    seen.insert(params_to_json(p));
    known->add_known(p);  // a restarted daemon replays what it proposed
  }
  CHECK(seen.size() == 40);
  auto rest = known->propose(100);
  CHECK(rest.size() == 24);  // only the unproposed points remain
  for (const Params& p : rest) CHECK(seen.insert(params_to_json(p)).second);
  CHECK(known->propose(1).empty());
}

TEST_CASE("proposer: BO proposals respect the architecture rules and learn", "[proposer]") {
  auto spec = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
  spec.factors[3]->values = {2, 4, 8, 16};  // num_heads
  spec.factors[2]->values = {40, 64};       // bottleneck_size: 16 heads cannot split 40
  auto proposer = make_proposer(spec, 7);
  REQUIRE(proposer);
  for (int round = 0; round < 6; ++round) {
    auto batch = proposer->propose(4);
    REQUIRE(batch.size() == 4);
    for (const Params& p : batch) {
      CHECK(is_valid_candidate(spec, p));
      // A synthetic measurement: bigger models are more accurate and slower.
      double size = 1;
      for (const auto& v : p) size *= v.number;
      proposer->observe(p, {{"accuracy", std::log(size)}, {"latency_ms", size / 1e6}});
      proposer->finish(p);
    }
  }
}

TEST_CASE("proposer: the BO engine's own checks reach the submitter", "[proposer]") {
  auto spec = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
  spec.constraints.push_back(autodistill::testing::constraint("params", true, 10));
  Status s = validate_search(spec);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.field().rfind("spec.", 0) == 0);
}

TEST_CASE("proposer: score tells a hopeless probed candidate from a promising one", "[proposer]") {
  auto spec = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
  auto proposer = make_proposer(spec, 1);
  REQUIRE(proposer);
  // Every point of the 2^6 grid, first factor slowest.
  std::vector<Params> grid;
  for (int i = 0; i < 64; ++i) {
    Params p;
    for (size_t f = 0; f < spec.factors.size(); ++f) {
      wire::ParamValueT v;
      v.name = spec.factors[f]->name;
      v.number = spec.factors[f]->values[(i >> (5 - f)) & 1];
      p.push_back(v);
    }
    grid.push_back(p);
  }
  auto accuracy = [](const Params& p) {
    return 0.3 + 0.1 * std::log2(p[1].number / 128) + 0.05 * std::log2(p[4].number / 256) +
           0.05 * (p[0].number == 4) + 0.02 * (p[5].number == 2) + 0.03 * (p[2].number == 128);
  };
  auto latency = [](const Params& p) {
    return 1 + 0.5 * p[0].number * (p[1].number / 128) * p[5].number * (p[2].number / 64);
  };
  CHECK(proposer->score(grid[5]) == 0.0);  // no data: the models cannot judge
  for (int i = 1; i < 63; i += 6) {
    proposer->add_known(grid[i]);
    proposer->observe(grid[i], {{"accuracy", accuracy(grid[i])}, {"latency_ms", latency(grid[i])}});
    proposer->finish(grid[i]);
  }
  // Probed only: the smallest architecture measured far slower than every
  // model so far, and the largest one measured faster than all of them.
  proposer->add_known(grid[0]);
  proposer->observe(grid[0], {{"latency_ms", 1000}});
  proposer->add_known(grid[63]);
  proposer->observe(grid[63], {{"latency_ms", 0.5}});
  // Candidates probed at their own latency, dominated or not, are not
  // hopeless while the accuracy model is this uncertain.
  for (int i = 2; i < 63; i += 6) {
    auto copy = make_proposer(spec, 1);
    for (int j = 1; j < 63; j += 6) {
      copy->add_known(grid[j]);
      copy->observe(grid[j], {{"accuracy", accuracy(grid[j])}, {"latency_ms", latency(grid[j])}});
      copy->finish(grid[j]);
    }
    copy->add_known(grid[i]);
    copy->observe(grid[i], {{"latency_ms", latency(grid[i])}});
    INFO("point " << i);
    CHECK(copy->score(grid[i]) > 1e-2);
  }
  const double hopeless = proposer->score(grid[0]);
  const double promising = proposer->score(grid[63]);
  INFO("hopeless " << hopeless << ", promising " << promising);
  CHECK(hopeless <= 1e-2);  // the daemon's skip_dominated_flash threshold
  CHECK(promising > 1e-2);
}

TEST_CASE("proposer: declared transforms decide the log scale and result checks", "[proposer]") {
  auto spec = external_spec(4);
  spec.objectives[0]->name = "latency_ms";
  // Auto: the naming rule.
  CHECK(log_transformed(spec, "latency_ms"));
  CHECK_FALSE(log_transformed(spec, "f2"));
  CHECK(log_transformed(spec, "params"));
  spec.objectives[0]->transform = wire::ObjectiveTransform::Identity;
  spec.objectives[1]->transform = wire::ObjectiveTransform::Log;
  CHECK_FALSE(log_transformed(spec, "latency_ms"));
  CHECK(log_transformed(spec, "f2"));

  CHECK(check_measurements(spec, {{"latency_ms", -1.0}, {"f2", 3.0}}));
  Status bad = check_measurements(spec, {{"latency_ms", -1.0}, {"f2", 0.0}});
  CHECK(bad.code() == Code::kInvalidArgument);
  CHECK(bad.field() == "objectives.f2");
  CHECK(bad.message().find("log") != std::string::npos);
  CHECK(check_measurements(spec, {{"f2", NAN}}).field() == "objectives.f2");

  // An identity-transformed latency may be negative: the proposer models it.
  auto proposer = make_proposer(spec, 1);
  REQUIRE(proposer);
  for (int i = 0; i < 6; ++i) {
    const Params p = proposer->propose(1).at(0);
    proposer->observe(p, {{"latency_ms", p[0].number - 0.5}, {"f2", 1.0 + p[1].number / 64}});
    proposer->finish(p);
  }
  CHECK(proposer->score(proposer->propose(1).at(0)) >= 0.0);
}

TEST_CASE("proposer: a reference at the baseline is the baseline's measured value", "[proposer]") {
  // Two distill proposers see the same observations: one takes its
  // references from the measured baseline, the other is given those values.
  // Their acquisition agrees; without a reference it differs.
  auto base = distill_spec(std::string(64, 'a'), std::string(64, 'b'));
  autodistill::testing::set_baseline(base);
  auto at_baseline = base;
  for (auto& o : at_baseline.objectives) {
    o = std::make_unique<wire::ObjectiveT>(*o);
    o->reference_baseline = true;
  }
  auto given = base;
  for (auto& o : given.objectives) o = std::make_unique<wire::ObjectiveT>(*o);
  const double base_accuracy = 0.62, base_latency = 3.0;
  given.objectives[0]->reference = base_accuracy;
  given.objectives[1]->reference = base_latency;
  REQUIRE(validate_search(at_baseline));
  REQUIRE(validate_search(given));
  auto a = make_proposer(at_baseline, 1);
  auto g = make_proposer(given, 2);
  auto none = make_proposer(base, 3);
  REQUIRE(a);
  REQUIRE(g);
  REQUIRE(none);
  auto measure = [](const Params& p) {
    double h = 0, ffn = 0, inter = 0;
    for (const auto& v : p) {
      if (v.name == "hidden_size") h = v.number;
      if (v.name == "num_stacked_ffn") ffn = v.number;
      if (v.name == "intermediate_size") inter = v.number;
    }
    return std::map<std::string, double>{{"accuracy", 0.4 + h / 1000 + ffn / 50},
                                         {"latency_ms", 1 + h / 100 + ffn * inter / 512}};
  };
  const Params baseline = baseline_params(base);
  for (auto* p : {a.get(), g.get(), none.get()}) {
    p->add_known(baseline);
    p->observe(baseline, {{"accuracy", base_accuracy}, {"latency_ms", base_latency}});
    p->finish(baseline);
  }
  // Seven more candidates, the same for the three.
  for (int i = 0; i < 7; ++i) {
    const Params p = g->propose(1).at(0);
    for (auto* q : {a.get(), g.get(), none.get()}) {
      if (q != g.get()) q->add_known(p);
      q->observe(p, measure(p));
      q->finish(p);
    }
  }
  const Params next = g->propose(1).at(0);
  CHECK(params_to_json(a->propose(1).at(0)) == params_to_json(next));
  auto random_spec = base;
  random_spec.algorithm = "random";
  auto random = make_proposer(random_spec, 4);
  std::vector<double> sa, sg, sn;
  for (const Params& p : random->propose(8)) {
    sa.push_back(a->score(p));
    sg.push_back(g->score(p));
    sn.push_back(none->score(p));
  }
  CHECK(sa == sg);
  CHECK(sa != sn);
}
