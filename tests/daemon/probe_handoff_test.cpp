// The probe measurement a Regular trial carries to the distillation worker
// (daemon/.../probe_handoff.hpp): which Probe trial is chosen, and the
// settings the worker receives.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "autodistill/daemon/probe_handoff.hpp"
#include "autodistill/wire/codec.hpp"

using namespace autodistill;
using namespace autodistill::daemon;

namespace {

TrialRow trial(uint64_t id, uint32_t candidate, wire::TrialKind kind, wire::TrialState state) {
  TrialRow t;
  t.id = id;
  t.candidate = candidate;
  t.kind = kind;
  t.state = state;
  return t;
}

}  // namespace

TEST_CASE("the Regular trial gets the candidate's latest completed probe") {
  using K = wire::TrialKind;
  using S = wire::TrialState;
  std::vector<TrialRow> trials = {
      trial(1, 1, K::Probe, S::Completed), trial(2, 1, K::Flash, S::Completed),
      trial(3, 2, K::Probe, S::Completed), trial(4, 1, K::Probe, S::Failed),
      trial(5, 1, K::Probe, S::Completed), trial(6, 3, K::Probe, S::Leased)};
  auto one = completed_probe(trials, 1);
  REQUIRE(one);
  CHECK(one->id == 5);
  CHECK(completed_probe(trials, 2)->id == 3);
  CHECK_FALSE(completed_probe(trials, 3));  // not completed
  CHECK_FALSE(completed_probe(trials, 4));  // no probe at all
}

TEST_CASE("the probe measurement is added to the study's settings under \"probe\"") {
  TrialRow probe = trial(12, 1, wire::TrialKind::Probe, wire::TrialState::Completed);
  probe.fingerprint = "cpu:abc";
  probe.objectives = {{"latency_ms", 3.5}};
  probe.metrics = {{"median_ci_low_ms", 3.4}, {"median_ci_high_ms", 3.7}};
  const auto settings = nlohmann::json::parse(settings_with_probe(
      R"({"distill": {"flash_steps": 4}, "probe": "the study's own, replaced"})", probe));
  CHECK(settings["distill"]["flash_steps"] == 4);
  CHECK(settings["probe"]["trial_id"] == 12);
  CHECK(settings["probe"]["hardware_fingerprint"] == "cpu:abc");
  CHECK(settings["probe"]["objectives"]["latency_ms"] == 3.5);
  CHECK(settings["probe"]["metrics"]["median_ci_high_ms"] == 3.7);
  // Empty settings become an object; settings that are not one stay as they are.
  CHECK(nlohmann::json::parse(settings_with_probe("", probe))["probe"]["trial_id"] == 12);
  CHECK(settings_with_probe("[1]", probe) == "[1]");
  // No metrics: an empty object.
  probe.metrics.clear();
  CHECK(nlohmann::json::parse(settings_with_probe("{}", probe))["probe"]["metrics"].empty());
}
