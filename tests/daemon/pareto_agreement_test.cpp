// The daemon's Pareto set (daemon/pareto.hpp: what it selects for regular
// distillation) and the client report's front (report.hpp: on_front) come
// from one implementation (autodistill/pareto.hpp). Here both read the same
// study, with the cases where two implementations would drift apart: ties,
// NaN values, constraints met exactly at their bound, a re-probe whose
// later measurement counts, a candidate whose probe has not completed and
// one that lacks a constrained metric.

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "autodistill/daemon/pareto.hpp"
#include "autodistill/report.hpp"
#include "spec_builder.hpp"

using namespace autodistill;

namespace {

struct TrialCase {
  uint32_t candidate;
  bool probe;  // else flash
  bool completed;
  std::map<std::string, double> objectives;
  std::map<std::string, double> metrics;
};

const double kNaN = std::nan("");

// Objectives: accuracy (max), latency_ms (min). Constraints: latency_ms <=
// 10, accuracy >= 0.3, params <= 1000.
const std::vector<TrialCase> kTrials = {
    // 0 and 1: a tie, both at the latency bound: both on the front.
    {0, true, true, {{"latency_ms", 10}}, {}},
    {0, false, true, {{"accuracy", 0.5}}, {{"params", 500}}},
    {1, true, true, {{"latency_ms", 10}}, {}},
    {1, false, true, {{"accuracy", 0.5}}, {{"params", 500}}},
    // 2 would dominate everything, but its latency is beyond the bound.
    {2, true, true, {{"latency_ms", 10.5}}, {}},
    {2, false, true, {{"accuracy", 0.9}}, {{"params", 500}}},
    // 3: a NaN accuracy is no measurement: not on the front.
    {3, true, true, {{"latency_ms", 5}}, {}},
    {3, false, true, {{"accuracy", kNaN}}, {{"params", 500}}},
    // 4: accuracy at its bound, a NaN params (violates nothing): the fastest.
    {4, true, true, {{"latency_ms", 4}}, {}},
    {4, false, true, {{"accuracy", 0.3}}, {{"params", kNaN}}},
    // 5: dominated by 4 (same accuracy, slower).
    {5, true, true, {{"latency_ms", 6}}, {}},
    {5, false, true, {{"accuracy", 0.3}}, {{"params", 500}}},
    // 6: a first probe (2 ms) did not converge, the re-probe (8 ms) did and
    // counts; with 2 ms, 6 would dominate 4.
    {6, true, true, {{"latency_ms", 2}}, {{"converged", 0}}},
    {6, true, true, {{"latency_ms", 8}}, {{"converged", 1}}},
    {6, false, true, {{"accuracy", 0.45}}, {{"params", 500}}},
    // 7: its probe is still queued: not complete, however good its flash.
    {7, true, false, {}, {}},
    {7, false, true, {{"accuracy", 0.99}}, {{"params", 500}}},
    // 8: no params reported, and params is constrained: a complete candidate
    // that lacks a constrained metric violates it.
    {8, true, true, {{"latency_ms", 1}}, {}},
    {8, false, true, {{"accuracy", 0.95}}, {}},
};

wire::StudySpecT daemon_spec() {
  wire::StudySpecT spec;
  spec.kind = wire::StudyKind::Distill;
  spec.objectives.push_back(testing::objective("accuracy", true));
  spec.objectives.push_back(testing::objective("latency_ms", false));
  spec.constraints.push_back(testing::constraint("latency_ms", true, 10));
  spec.constraints.push_back(testing::constraint("accuracy", false, 0.3));
  spec.constraints.push_back(testing::constraint("params", true, 1000));
  return spec;
}

StudyInfo client_study() {
  StudyInfo study;
  study.spec.kind = StudyKind::kDistill;
  study.spec.objectives = {{"accuracy", Direction::kMaximize},
                           {"latency_ms", Direction::kMinimize}};
  study.spec.constraints = {{"latency_ms", Comparison::kLessEqual, 10},
                            {"accuracy", Comparison::kGreaterEqual, 0.3},
                            {"params", Comparison::kLessEqual, 1000}};
  return study;
}

std::vector<daemon::TrialRow> daemon_trials() {
  std::vector<daemon::TrialRow> rows;
  for (const TrialCase& c : kTrials) {
    daemon::TrialRow t;
    t.id = rows.size() + 1;
    t.candidate = c.candidate;
    t.kind = c.probe ? wire::TrialKind::Probe : wire::TrialKind::Flash;
    t.state = c.completed ? wire::TrialState::Completed : wire::TrialState::Queued;
    t.objectives = c.objectives;
    t.metrics = c.metrics;
    rows.push_back(std::move(t));
  }
  return rows;
}

std::vector<TrialInfo> client_trials() {
  std::vector<TrialInfo> out;
  for (const TrialCase& c : kTrials) {
    TrialInfo t;
    t.trial_id = out.size() + 1;
    t.candidate = c.candidate;
    t.kind = c.probe ? TrialKind::kProbe : TrialKind::kFlash;
    t.state = c.completed ? TrialState::kCompleted : TrialState::kQueued;
    for (const auto& [name, value] : c.objectives) t.objectives.push_back({name, value});
    for (const auto& [name, value] : c.metrics) t.metrics.push_back({name, value});
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

TEST_CASE("pareto agreement: the daemon's set and the report's front agree on ties, NaN and bounds",
          "[pareto]") {
  const std::vector<uint32_t> expected = {0, 1, 4, 6};
  CHECK(daemon::pareto_candidates(daemon_spec(), daemon_trials()) == expected);

  const StudyReport report = build_report(client_study(), client_trials());
  std::vector<uint32_t> on_front;
  for (const CandidateReport& c : report.candidates) {
    if (c.on_front) on_front.push_back(c.candidate);
  }
  CHECK(on_front == expected);
  // The report's latency is the counted re-probe's, as the daemon's.
  REQUIRE(report.candidates.size() == 9);
  CHECK(report.candidates[6].latency_ms == 8.0);
}

TEST_CASE("pareto agreement: a spec without objectives gets the Distill ones in the report",
          "[pareto]") {
  StudyInfo study = client_study();
  study.spec.objectives.clear();
  const StudyReport report = build_report(study, client_trials());
  std::vector<uint32_t> on_front;
  for (const CandidateReport& c : report.candidates) {
    if (c.on_front) on_front.push_back(c.candidate);
  }
  CHECK(on_front == std::vector<uint32_t>{0, 1, 4, 6});
}

TEST_CASE("pareto agreement: feasible_objectives on the client spec judges as the daemon does",
          "[pareto]") {
  const StudySpec spec = client_study().spec;
  // At both bounds: within; maximized vector (accuracy, -latency).
  CHECK(feasible_objectives(spec, {{"accuracy", 0.3}, {"latency_ms", 10}, {"params", 1000}}) ==
        std::vector<double>{0.3, -10});
  CHECK_FALSE(
      feasible_objectives(spec, {{"accuracy", 0.3}, {"latency_ms", 10.001}, {"params", 1}}));
  // A missing constrained metric violates, unless the view is partial.
  CHECK_FALSE(feasible_objectives(spec, {{"accuracy", 0.4}, {"latency_ms", 3}}));
  CHECK(feasible_objectives(spec, {{"accuracy", 0.4}, {"latency_ms", 3}}, false));
  // A NaN objective is no point; a NaN constrained metric violates nothing.
  CHECK_FALSE(feasible_objectives(spec, {{"accuracy", kNaN}, {"latency_ms", 3}, {"params", 1}}));
  CHECK(feasible_objectives(spec, {{"accuracy", 0.4}, {"latency_ms", 3}, {"params", kNaN}}));
}
