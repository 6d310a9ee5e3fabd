// Honest latency (issue #14 item 3): a probe that reports converged = 0 is
// probed again later, as a new Probe trial after a backoff; the candidate's
// flash goes on meanwhile with the provisional latency; when the re-probes
// are spent without a converged measurement the candidate's latest
// measurement is marked (latency_unconverged); selection and the Regular
// trial's probe hand-off use the latest converged measurement, else the latest.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "autodistill/daemon/pareto.hpp"
#include "autodistill/glue_settings.hpp"
#include "controller_harness.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using autodistill::testing::distill_spec;
using autodistill::testing::find_ack;
using autodistill::testing::Harness;
using autodistill::testing::Received;

namespace {

constexpr const char* kFingerprint = "fp-test";

// A probe's Result: latency, the other objectives, converged and its CI.
std::vector<Received> probe_result(Harness& h, const std::string& peer, const wire::AssignT& a,
                                   double latency, bool converged) {
  wire::ResultT r;
  r.trial_id = a.trial_id;
  r.attempt = a.attempt;
  r.hardware_fingerprint = kFingerprint;
  auto metric = [](const std::string& name, double value) {
    auto m = std::make_unique<wire::MetricT>();
    m->name = name;
    m->value = value;
    return m;
  };
  for (const std::string& name : a.objectives) {
    r.objectives.push_back(metric(name, name == "latency_ms" ? latency : 1000));
  }
  r.metrics.push_back(metric("converged", converged ? 1 : 0));
  r.metrics.push_back(metric("median_ci_low_ms", latency * 0.8));
  r.metrics.push_back(metric("median_ci_high_ms", latency * 1.3));
  auto out = h.worker(peer, std::move(r));
  REQUIRE(find_ack(out));
  return out;
}

std::vector<const wire::TrialInfoT*> trials_of(const wire::StudyReplyT& r, uint32_t candidate,
                                               wire::TrialKind kind) {
  std::vector<const wire::TrialInfoT*> out;
  for (const auto& t : r.trials) {
    if (t->candidate == candidate && t->kind == kind) out.push_back(t.get());
  }
  return out;
}

std::map<std::string, double> metrics_of(const wire::TrialInfoT& t) {
  std::map<std::string, double> out;
  for (const auto& m : t.metrics) out[m->name] = m->value;
  return out;
}

std::vector<EventRow> events(Harness& h, uint64_t study, const std::string& kind) {
  std::vector<EventRow> out;
  auto all = h.store->events_after(study, 0, 10000);
  REQUIRE(all);
  for (const EventRow& e : all.value()) {
    if (e.kind == kind) out.push_back(e);
  }
  return out;
}

// One candidate, no baseline: probe, flash, regular. Workers and leases
// outlive the test's clock jumps (no heartbeats are sent).
uint64_t submit_one(Harness& h) {
  h.config.liveness = 1000;
  h.config.lease_ms = 1'000'000;
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  auto spec = distill_spec(teacher, corpus);
  spec.max_trials = 1;
  spec.parallelism = 1;
  return h.submit(std::move(spec));
}

// Completes a flash or regular Assign with accuracy 0.8.
void complete(Harness& h, const std::string& peer, const wire::AssignT& a) {
  auto out = h.result(peer, a, 0.8);
  REQUIRE(find_ack(out));
}

TrialRow row(uint32_t candidate, wire::TrialKind kind, const std::string& objectives,
             const std::string& metrics = "{}") {
  static uint64_t next_id = 1;
  TrialRow t;
  t.id = next_id++;
  t.candidate = candidate;
  t.kind = kind;
  t.state = wire::TrialState::Completed;
  t.objectives = values_from_json(objectives, "objectives").value();
  t.metrics = values_from_json(metrics, "metrics").value();
  return t;
}

}  // namespace

TEST_CASE(
    "reprobe: an unconverged probe is probed again after the backoff, selection and "
    "the hand-off use the converged measurement",
    "[reprobe]") {
  Harness h;
  h.config.max_reprobes = 2;
  h.config.reprobe_backoff_ms = 10'000;
  const uint64_t study = submit_one(h);
  auto probes = h.join("probe", wire::Role::Probe, 1, {}, "cpu-test");
  REQUIRE(probes.size() == 1);
  auto flashes = h.join("distill", wire::Role::Distill, 1);
  REQUIRE(flashes.empty());

  // Converged 0 on a loaded host: 9 ms. The flash goes on with it.
  auto out = probe_result(h, "probe", probes[0], 9, false);
  flashes = Harness::assigns(out);
  REQUIRE(flashes.size() == 1);
  CHECK(flashes[0].kind == wire::TrialKind::Flash);
  auto reply = h.get(study);
  auto probe_rows = trials_of(reply, 0, wire::TrialKind::Probe);
  REQUIRE(probe_rows.size() == 2);
  CHECK(probe_rows[0]->state == wire::TrialState::Completed);
  CHECK(probe_rows[1]->state == wire::TrialState::Queued);
  auto queued = events(h, study, "reprobe_queued");
  REQUIRE(queued.size() == 1);
  CHECK(queued[0].trial_id == probe_rows[1]->trial_id);
  // An unconverged measurement is not reused by other studies.
  nlohmann::json arch = nlohmann::json::object();
  for (const auto& p : probes[0].params) arch[p->name] = p->number;
  CHECK_FALSE(h.store->find_probe(arch.dump(), "{}", kFingerprint).value().has_value());

  // Not before the backoff, not even to a worker with credit.
  auto early = h.pull("probe", 1);
  CHECK(early.empty());
  h.now += 9'000;
  CHECK(Harness::assigns(h.tick()).empty());
  h.now += 1'000;
  auto reprobe = Harness::assigns(h.tick());
  REQUIRE(reprobe.size() == 1);
  CHECK(reprobe[0].kind == wire::TrialKind::Probe);
  CHECK(reprobe[0].trial_id == probe_rows[1]->trial_id);

  // The flash ends while the re-probe runs: the candidate stays open, so no
  // selection on the provisional latency.
  complete(h, "distill", flashes[0]);
  CHECK(h.get(study).study->state == wire::StudyState::Exploring);

  // The re-probe converges at 3 ms: the study selects, and the Regular
  // trial carries the converged measurement.
  out = probe_result(h, "probe", reprobe[0], 3, true);
  CHECK(events(h, study, "latency_unconverged").empty());
  CHECK(h.get(study).study->state == wire::StudyState::Finalizing);
  auto regular = h.pull("distill", 1);
  REQUIRE(regular.size() == 1);
  CHECK(regular[0].kind == wire::TrialKind::Regular);
  auto settings = nlohmann::json::parse(regular[0].settings_json);
  CHECK(settings["probe"]["trial_id"] == reprobe[0].trial_id);
  CHECK(settings["probe"]["objectives"]["latency_ms"] == 3);
  // Two probes, not three: a converged one ends the series.
  CHECK(trials_of(h.get(study), 0, wire::TrialKind::Probe).size() == 2);
  CHECK(h.store->find_probe(arch.dump(), "{}", kFingerprint).value().has_value());
  complete(h, "distill", regular[0]);
  CHECK(h.get(study).study->state == wire::StudyState::Succeeded);
}

TEST_CASE("reprobe: a candidate whose probes never converge is marked, across a restart",
          "[reprobe]") {
  Harness h;
  h.config.max_reprobes = 1;
  h.config.reprobe_backoff_ms = 5'000;
  const uint64_t study = submit_one(h);
  auto probes = h.join("probe", wire::Role::Probe, 1, {}, "cpu-test");
  REQUIRE(probes.size() == 1);
  auto flashes = Harness::assigns(probe_result(h, "probe", probes[0], 9, false));
  CHECK(flashes.empty());  // no distill worker yet

  // A restart keeps the pending re-probe and its backoff.
  h.reopen();
  probes = h.join("probe", wire::Role::Probe, 1, {}, "cpu-test");
  CHECK(probes.empty());
  h.now += 5'000;
  probes = Harness::assigns(h.tick());
  REQUIRE(probes.size() == 1);
  flashes = h.join("distill", wire::Role::Distill, 1);
  REQUIRE(flashes.size() == 1);
  complete(h, "distill", flashes[0]);

  // The one re-probe does not converge either (7 ms): no more re-probes,
  // the latest measurement is marked, and selection uses it.
  probe_result(h, "probe", probes[0], 7, false);
  auto reply = h.get(study);
  auto probe_rows = trials_of(reply, 0, wire::TrialKind::Probe);
  REQUIRE(probe_rows.size() == 2);
  CHECK(metrics_of(*probe_rows[0]).count("latency_unconverged") == 0);
  CHECK(metrics_of(*probe_rows[1]).at("latency_unconverged") == 1);
  auto marked = events(h, study, "latency_unconverged");
  REQUIRE(marked.size() == 1);
  CHECK(marked[0].trial_id == probe_rows[1]->trial_id);
  CHECK(marked[0].message.find("did not converge in 2 probes") != std::string::npos);
  CHECK(reply.study->state == wire::StudyState::Finalizing);
  auto regular = h.pull("distill", 1);
  REQUIRE(regular.size() == 1);
  auto settings = nlohmann::json::parse(regular[0].settings_json);
  CHECK(settings["probe"]["trial_id"] == probe_rows[1]->trial_id);
  CHECK(settings["probe"]["metrics"]["latency_unconverged"] == 1);

  // The mark is stored: it survives a restart.
  h.reopen();
  reply = h.get(study);
  probe_rows = trials_of(reply, 0, wire::TrialKind::Probe);
  REQUIRE(probe_rows.size() == 2);
  CHECK(metrics_of(*probe_rows[1]).at("latency_unconverged") == 1);
}

TEST_CASE(
    "reprobe: with GLUE tasks, a restart during the backoff still re-probes, and a candidate "
    "whose probes never converge is delivered and fine-tuned",
    "[reprobe][glue]") {
  Harness h;
  h.config.max_reprobes = 1;
  h.config.reprobe_backoff_ms = 5'000;
  h.config.liveness = 1000;
  h.config.lease_ms = 1'000'000;
  const std::string teacher = h.blobs->put("teacher").value();
  const std::string corpus = h.blobs->put("corpus").value();
  const std::string task = h.blobs->put("a task bundle").value();
  auto spec = distill_spec(teacher, corpus);
  spec.max_trials = 1;
  spec.parallelism = 1;
  spec.settings_json = R"({"glue": {"tasks": {"kjv": ")" + task + R"("}}})";
  const uint64_t study = h.submit(std::move(spec));
  auto probes = h.join("probe", wire::Role::Probe, 1, {}, "cpu-test");
  REQUIRE(probes.size() == 1);
  REQUIRE(h.join("distill", wire::Role::Distill, 1).empty());
  auto flashes = Harness::assigns(probe_result(h, "probe", probes[0], 9, false));
  REQUIRE(flashes.size() == 1);
  CHECK(flashes[0].kind == wire::TrialKind::Flash);
  complete(h, "distill", flashes[0]);
  CHECK(h.get(study).study->state == wire::StudyState::Exploring);  // the re-probe is pending

  // The daemon restarts 2 s into the 5 s backoff: the re-probe is still
  // queued, and leased once the backoff from its queueing has passed.
  h.now += 2'000;
  h.reopen();
  CHECK(h.join("probe", wire::Role::Probe, 1, {}, "cpu-test").empty());
  CHECK(h.join("distill", wire::Role::Distill, 4).empty());
  h.now += 2'999;
  CHECK(Harness::assigns(h.tick()).empty());
  h.now += 1;
  auto reprobe = Harness::assigns(h.tick());
  REQUIRE(reprobe.size() == 1);
  CHECK(reprobe[0].kind == wire::TrialKind::Probe);

  // It does not converge either: marked, selected, regularly distilled.
  auto regular = Harness::assigns(probe_result(h, "probe", reprobe[0], 7, false));
  REQUIRE(regular.size() == 1);
  CHECK(regular[0].kind == wire::TrialKind::Regular);
  CHECK(nlohmann::json::parse(regular[0].settings_json)["probe"]["trial_id"] ==
        reprobe[0].trial_id);
  REQUIRE(events(h, study, "latency_unconverged").size() == 1);

  // The delivered student and the teacher are fine-tuned on the task.
  auto finetunes = Harness::assigns(h.result("distill", regular[0], 0.9));
  std::set<uint32_t> whose;
  for (const wire::AssignT& a : finetunes) {
    CHECK(a.kind == wire::TrialKind::Finetune);
    for (const auto& t : h.get(study).trials) {
      if (t->trial_id == a.trial_id) whose.insert(t->candidate);
    }
  }
  CHECK(whose == std::set<uint32_t>{0, kTeacherCandidate});
  const Snapshot snapshot = h.controller->snapshot();
  REQUIRE(snapshot.studies.size() == 1);
  REQUIRE(snapshot.studies[0].candidates.size() == 1);
  CHECK(snapshot.studies[0].candidates[0].stage == "finetune");
  for (const wire::AssignT& a : finetunes) REQUIRE(find_ack(h.result("distill", a, 0.75)));
  auto reply = h.get(study);
  INFO(reply.study->message);
  CHECK(reply.study->state == wire::StudyState::Succeeded);
  CHECK(reply.study->message.find("fine-tuning: 2 of 2 trials completed") != std::string::npos);
  auto probe_rows = trials_of(reply, 0, wire::TrialKind::Probe);
  REQUIRE(probe_rows.size() == 2);
  CHECK(metrics_of(*probe_rows[1]).at("latency_unconverged") == 1);
}

TEST_CASE("reprobe: a failed re-probe does not fail the candidate", "[reprobe]") {
  Harness h;
  h.config.max_reprobes = 1;
  h.config.reprobe_backoff_ms = 1'000;
  const uint64_t study = submit_one(h);
  auto probes = h.join("probe", wire::Role::Probe, 1, {}, "cpu-test");
  auto flashes = h.join("distill", wire::Role::Distill, 1);
  flashes = Harness::assigns(probe_result(h, "probe", probes[0], 9, false));
  REQUIRE(flashes.size() == 1);
  CHECK(h.pull("probe", 1).empty());
  h.now += 1'000;
  probes = Harness::assigns(h.tick());
  REQUIRE(probes.size() == 1);
  wire::FailureT f;
  f.trial_id = probes[0].trial_id;
  f.attempt = probes[0].attempt;
  f.retryable = false;
  f.error = std::make_unique<wire::ErrorT>();
  f.error->code = wire::ErrorCode::ResourceExhausted;
  f.error->message = "out of memory";
  REQUIRE(find_ack(h.worker("probe", std::move(f))));
  complete(h, "distill", flashes[0]);
  auto reply = h.get(study);
  CHECK(reply.study->state == wire::StudyState::Finalizing);
  CHECK(reply.study->trials_failed == 1);
  // The one completed measurement is marked: it is the only one there is.
  auto probe_rows = trials_of(reply, 0, wire::TrialKind::Probe);
  REQUIRE(probe_rows.size() == 2);
  CHECK(metrics_of(*probe_rows[0]).at("latency_unconverged") == 1);
}

TEST_CASE("reprobe: max_reprobes 0 marks the first unconverged measurement", "[reprobe]") {
  Harness h;
  h.config.max_reprobes = 0;
  const uint64_t study = submit_one(h);
  auto probes = h.join("probe", wire::Role::Probe, 1, {}, "cpu-test");
  probe_result(h, "probe", probes[0], 9, false);
  const auto reply = h.get(study);
  auto probe_rows = trials_of(reply, 0, wire::TrialKind::Probe);
  REQUIRE(probe_rows.size() == 1);
  CHECK(metrics_of(*probe_rows[0]).at("latency_unconverged") == 1);
  CHECK(events(h, study, "reprobe_queued").empty());
}

TEST_CASE("reprobe: selection counts the latest converged measurement, else the latest",
          "[reprobe][selection]") {
  auto spec = distill_spec("t", "c");
  const std::string unconverged = R"({"converged": 0})", converged = R"({"converged": 1})";
  std::vector<TrialRow> rows;
  // Candidate 0: 9 ms unconverged, then 3 ms converged, then 8 ms unconverged: 3 counts.
  rows.push_back(row(0, wire::TrialKind::Probe, R"({"latency_ms": 9})", unconverged));
  rows.push_back(row(0, wire::TrialKind::Flash, R"({"accuracy": 0.8})"));
  rows.push_back(row(0, wire::TrialKind::Probe, R"({"latency_ms": 3})", converged));
  rows.push_back(row(0, wire::TrialKind::Probe, R"({"latency_ms": 8})", unconverged));
  // Candidate 1: 5 ms, more accurate. It dominates candidate 0 only at 8 or 9 ms.
  rows.push_back(row(1, wire::TrialKind::Probe, R"({"latency_ms": 5})", converged));
  rows.push_back(row(1, wire::TrialKind::Flash, R"({"accuracy": 0.9})"));
  CHECK(selected_candidates(spec, rows) == std::vector<uint32_t>{0, 1});
  // Without the converged one, the latest (8 ms) counts: dominated.
  rows.erase(rows.begin() + 2);
  CHECK(selected_candidates(spec, rows) == std::vector<uint32_t>{1});
}
