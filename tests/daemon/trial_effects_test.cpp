// A trial's decisions as effects (daemon/src/study/lifecycle.hpp, trial
// decisions; daemon/src/study/reprobe.hpp): how a trial ends, retries and
// is cancelled, and the re-probe series, without a Store.
#include <catch2/catch.hpp>

#include "autodistill/probe_choice.hpp"
#include "spec_builder.hpp"
#include "study/lifecycle.hpp"
#include "study/reprobe.hpp"

using namespace autodistill;
using namespace autodistill::daemon;
using namespace autodistill::testing;
using autodistill::daemon::study::CandidateBook;
using autodistill::wire::StudyState;
using autodistill::wire::TrialKind;
using autodistill::wire::TrialState;

namespace {

template <class T>
const T& at(const study::Effects& e, size_t i) {
  REQUIRE(i < e.size());
  REQUIRE(std::holds_alternative<T>(e[i]));
  return std::get<T>(e[i]);
}

Params width(double w) {
  wire::ParamValueT p;
  p.name = "hidden_size";
  p.number = w;
  return {p};
}

study::TrialView trial(uint64_t id, uint32_t candidate, TrialKind kind, TrialState state,
                       uint32_t attempt = 1) {
  study::TrialView t;
  t.id = id;
  t.candidate = candidate;
  t.kind = kind;
  t.state = state;
  t.attempt = attempt;
  t.params = width(64);
  return t;
}

const Values kUnconverged{{kProbeConvergedMetric, 0}};

TrialRow probe_row(uint64_t id, uint32_t candidate, TrialState state, Values metrics,
                   double latency = 2.5) {
  TrialRow r;
  r.id = id;
  r.candidate = candidate;
  r.kind = TrialKind::Probe;
  r.state = state;
  r.attempt = 1;
  if (state == TrialState::Completed) r.objectives = {{"latency_ms", latency}};
  r.metrics = std::move(metrics);
  return r;
}

}  // namespace

TEST_CASE("finish_trial: a first completed probe queues the flash before the probe closes",
          "[study][trial_effects]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  CandidateBook book;
  book.propose();
  book.queued(0, TrialKind::Probe);
  const study::StudyView v{spec, book, GlueSettings{}, false};
  study::TrialView t = trial(7, 0, TrialKind::Probe, TrialState::Leased);
  t.objectives = {{"latency_ms", 2.0}};
  int scored = 0;
  auto score = [&] { return ++scored, 1.0; };

  auto e = study::finish_trial(v, t, TrialState::Completed, score);
  REQUIRE(e.size() == 3);
  CHECK(at<study::RecordTrialEnd>(e, 0).trial == 7);
  CHECK(at<study::RecordTrialEnd>(e, 0).state == TrialState::Completed);
  CHECK(at<study::QueueTrial>(e, 1).kind == TrialKind::Flash);
  CHECK(at<study::QueueTrial>(e, 1).candidate == 0);
  CHECK(at<study::CloseInBook>(e, 2).kind == TrialKind::Probe);
  CHECK(at<study::CloseInBook>(e, 2).state == TrialState::Completed);
  CHECK(scored == 0);  // skip_dominated_flash is off: the engine is not asked

  // Not converged: the flash goes on with the provisional latency, and the
  // series is reviewed before the probe closes.
  t.metrics = kUnconverged;
  e = study::finish_trial(v, t, TrialState::Completed, score);
  REQUIRE(e.size() == 4);
  CHECK(at<study::QueueTrial>(e, 1).kind == TrialKind::Flash);
  CHECK(at<study::ReviewProbes>(e, 2).candidate == 0);
  CHECK(std::holds_alternative<study::CloseInBook>(e[3]));

  // A failed probe round is reviewed too (an earlier one may have measured);
  // no flash.
  e = study::finish_trial(v, t, TrialState::Failed, score);
  REQUIRE(e.size() == 3);
  CHECK(std::holds_alternative<study::ReviewProbes>(e[1]));

  // Shutting down, or no longer exploring: nothing new.
  study::StudyView stopping = v;
  stopping.shutting_down = true;
  e = study::finish_trial(stopping, t, TrialState::Failed, score);
  CHECK(e.size() == 2);
  study::StudyView finalizing = v;
  finalizing.state = StudyState::Finalizing;
  e = study::finish_trial(finalizing, t, TrialState::Completed, score);
  REQUIRE(e.size() == 2);
  CHECK(std::holds_alternative<study::RecordTrialEnd>(e[0]));
  CHECK(std::holds_alternative<study::CloseInBook>(e[1]));
}

TEST_CASE("finish_trial: a re-probe only refines and a failed candidate is not re-probed",
          "[study][trial_effects]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  CandidateBook book;
  book.propose();
  TrialRow first = probe_row(1, 0, TrialState::Completed, kUnconverged);
  book.fold(first);  // probed
  book.queued(0, TrialKind::Flash);
  book.queued(0, TrialKind::Probe);  // the re-probe
  const study::StudyView v{spec, book, GlueSettings{}, false};
  study::TrialView t = trial(2, 0, TrialKind::Probe, TrialState::Leased);
  t.metrics = kUnconverged;
  auto e = study::finish_trial(v, t, TrialState::Completed, [] { return 1.0; });
  REQUIRE(e.size() == 3);  // no second flash
  CHECK(std::holds_alternative<study::ReviewProbes>(e[1]));

  // The flash failed meanwhile: the candidate failed, its series is over.
  book.ended(0, TrialKind::Flash, TrialState::Failed);
  REQUIRE(book.failed(0));
  e = study::finish_trial(v, t, TrialState::Completed, [] { return 1.0; });
  REQUIRE(e.size() == 2);
  CHECK(std::holds_alternative<study::CloseInBook>(e[1]));
}

TEST_CASE("after_close and settle_candidate: the candidate's end", "[study][trial_effects]") {
  const Params p = width(32);
  // A trial that failed the candidate: the proposer hears, siblings stop.
  auto e = study::after_close(TrialKind::Flash, 3, p, {true, false});
  REQUIRE(e.size() == 3);
  CHECK(std::holds_alternative<study::ObserveFailure>(e[0]));
  CHECK(at<study::CancelCandidate>(e, 1).candidate == 3);
  CHECK(at<study::CancelCandidate>(e, 1).reason == "a sibling trial of the candidate failed");
  CHECK(at<study::SettleCandidate>(e, 2).candidate == 3);
  e = study::after_close(TrialKind::Flash, 3, p, {false, true});
  REQUIRE(e.size() == 1);
  CHECK(std::holds_alternative<study::SettleCandidate>(e[0]));
  // A Finetune trial measures a delivered model: never the candidate's
  // failure, nothing for the proposer.
  e = study::after_close(TrialKind::Finetune, 3, p, {true, true});
  REQUIRE(e.size() == 1);
  CHECK(at<study::CandidateDone>(e, 0).candidate == 3);
  CHECK(study::after_close(TrialKind::Finetune, 3, p, {false, false}).empty());

  const wire::StudySpecT spec = distill_spec("t", "c");
  CandidateBook book;
  for (int i = 0; i < 4; ++i) book.propose();
  const study::StudyView v{spec, book, GlueSettings{}, false};
  // 0: open; 1: complete; 2: flash skipped; 3: failed.
  book.queued(0, TrialKind::Probe);
  book.fold(probe_row(1, 1, TrialState::Completed, {}));
  TrialRow flash = probe_row(2, 1, TrialState::Completed, {});
  flash.kind = TrialKind::Flash;
  book.fold(flash);
  book.fold(probe_row(3, 2, TrialState::Completed, {}));
  TrialRow skipped = flash;
  skipped.candidate = 2;
  skipped.state = TrialState::Cancelled;
  book.fold(skipped);
  book.fold(probe_row(4, 3, TrialState::Failed, {}));
  CHECK(study::settle_candidate(v, 0, p).empty());
  e = study::settle_candidate(v, 1, p);
  REQUIRE(e.size() == 2);
  CHECK(std::holds_alternative<study::FinishCandidate>(e[0]));
  CHECK(at<study::CandidateDone>(e, 1).candidate == 1);
  e = study::settle_candidate(v, 2, p);
  REQUIRE(e.size() == 2);
  CHECK(std::holds_alternative<study::ObserveFailure>(e[0]));
  e = study::settle_candidate(v, 3, p);  // the proposer heard when it failed
  REQUIRE(e.size() == 1);
  CHECK(at<study::CandidateDone>(e, 0).candidate == 3);
}

TEST_CASE("requeue_or_fail: the next attempt, or failed at max_attempts",
          "[study][trial_effects]") {
  const wire::StudySpecT spec = external_spec(3);
  CandidateBook book;
  study::StudyView v{spec, book, GlueSettings{}, false};
  const auto t = trial(5, 0, TrialKind::External, TrialState::Leased, 2);

  auto e = study::requeue_or_fail(v, t, 3, "lease expired (worker \"w\")", true, "w");
  REQUIRE(e.size() == 2);
  CHECK(at<study::ReleaseRanks>(e, 0).trial == 5);
  CHECK(at<study::RequeueTrial>(e, 1).trial == 5);
  CHECK(at<study::RequeueTrial>(e, 1).reason == "lease expired (worker \"w\")");

  // max_attempts reached: failed, with the reason (when it has no error).
  e = study::requeue_or_fail(v, t, 2, "lease expired", true, "w");
  REQUIRE(e.size() == 2);
  CHECK(at<study::FinishTrial>(e, 1).state == TrialState::Failed);
  CHECK(at<study::FinishTrial>(e, 1).reason == "lease expired");
  // Not retryable: failed at once, attempts left or not.
  e = study::requeue_or_fail(v, t, 3, "worker reported: bad", false, "w");
  CHECK(at<study::FinishTrial>(e, 1).state == TrialState::Failed);
  // A study that no longer runs trials (Selecting, or ended) does not retry.
  for (StudyState st : {StudyState::Selecting, StudyState::Cancelled, StudyState::Queued}) {
    v.state = st;
    e = study::requeue_or_fail(v, t, 3, "worker left", true, "w");
    CHECK(std::holds_alternative<study::FinishTrial>(e.back()));
  }
  v.state = StudyState::Finalizing;
  e = study::requeue_or_fail(v, t, 3, "worker left", true, "w");
  CHECK(std::holds_alternative<study::RequeueTrial>(e.back()));
  // A trial that already ended: nothing.
  CHECK(study::requeue_or_fail(v, trial(5, 0, TrialKind::External, TrialState::Failed), 3, "x",
                               true, "w")
            .empty());
}

TEST_CASE("requeue_or_fail: a gang that lost a rank cancels the other ranks",
          "[study][trial_effects]") {
  const wire::StudySpecT spec = distill_spec("t", "c");
  CandidateBook book;
  const study::StudyView v{spec, book, GlueSettings{}, false, StudyState::Finalizing};
  auto t = trial(9, 1, TrialKind::Regular, TrialState::Leased, 1);
  t.gang = true;
  auto e = study::requeue_or_fail(v, t, 3, "worker \"r1\" went silent", true, "r1");
  REQUIRE(e.size() == 3);
  const auto& cancel = at<study::CancelRanks>(e, 0);
  CHECK(cancel.trial == 9);
  CHECK(cancel.reason == "the gang lost a rank: worker \"r1\" went silent");
  CHECK(cancel.except == "r1");  // the rank that was lost is not told
  CHECK(std::holds_alternative<study::ReleaseRanks>(e[1]));
  CHECK(std::holds_alternative<study::RequeueTrial>(e[2]));
  // Out of attempts: the other ranks are told too, then it fails.
  t.attempt = 3;
  e = study::requeue_or_fail(v, t, 3, "worker left", true, "r1");
  REQUIRE(e.size() == 3);
  CHECK(std::holds_alternative<study::CancelRanks>(e[0]));
  CHECK(at<study::FinishTrial>(e, 2).state == TrialState::Failed);
  // A queued gang trial has no ranks to tell.
  t.state = TrialState::Queued;
  e = study::requeue_or_fail(v, t, 3, "worker left", true, "r1");
  REQUIRE(e.size() == 2);
  CHECK(std::holds_alternative<study::ReleaseRanks>(e[0]));
}

TEST_CASE("cancel_trial and cancel_study", "[study][trial_effects]") {
  auto e = study::cancel_trial(trial(4, 0, TrialKind::Flash, TrialState::Leased), "stop");
  REQUIRE(e.size() == 2);
  CHECK(at<study::CancelRanks>(e, 0).reason == "stop");
  CHECK(at<study::CancelRanks>(e, 0).except.empty());
  CHECK(at<study::FinishTrial>(e, 1).state == TrialState::Cancelled);
  e = study::cancel_trial(trial(4, 0, TrialKind::Flash, TrialState::Queued), "stop");
  REQUIRE(e.size() == 1);
  CHECK(at<study::FinishTrial>(e, 0).trial == 4);
  // Cancelling a trial that already ended does nothing.
  for (TrialState st : {TrialState::Completed, TrialState::Failed, TrialState::Cancelled}) {
    CHECK(study::cancel_trial(trial(4, 0, TrialKind::Flash, st), "stop").empty());
  }

  e = study::cancel_study("cancelled by client", {12, 3, 7});
  REQUIRE(e.size() == 4);
  CHECK(at<study::SetStudyState>(e, 0).state == StudyState::Cancelled);
  CHECK(at<study::SetStudyState>(e, 0).message == "cancelled by client");
  CHECK(at<study::CancelTrial>(e, 1).trial == 3);
  CHECK(at<study::CancelTrial>(e, 2).trial == 7);
  CHECK(at<study::CancelTrial>(e, 3).trial == 12);
  CHECK(at<study::CancelTrial>(e, 3).reason == "cancelled by client");
}

TEST_CASE("stale_result: an earlier attempt's result stops the running attempt",
          "[study][trial_effects]") {
  auto t = trial(6, 0, TrialKind::External, TrialState::Leased, 2);
  auto e = study::stale_result(t, 1);
  REQUIRE(e.size() == 1);
  CHECK(at<study::CancelRanks>(e, 0).trial == 6);
  CHECK(at<study::CancelRanks>(e, 0).reason == "a result for attempt 1 arrived first");
  CHECK(study::stale_result(t, 2).empty());  // the running attempt's own result
  t.state = TrialState::Queued;              // re-queued, not leased: nobody to stop
  CHECK(study::stale_result(t, 1).empty());
}

TEST_CASE("after_probe_round: converged? re-probe with backoff? latency_unconverged?",
          "[study][trial_effects][reprobe]") {
  const study::ReprobePolicy policy{2, 1000};
  const Params p = width(64);
  const int64_t now = 50'000;
  CHECK(study::reprobe_delay_ms(policy, 1) == 1000);
  CHECK(study::reprobe_delay_ms(policy, 2) == 2000);
  CHECK(study::reprobe_delay_ms(policy, 3) == 4000);
  CHECK(study::reprobe_delay_ms(policy, 100) == (int64_t{1000} << 20));  // capped

  std::vector<TrialRow> rows;
  // No completed measurement (the probe failed): nothing.
  rows.push_back(probe_row(1, 0, TrialState::Failed, {}));
  CHECK(study::after_probe_round(rows, 0, p, policy, now).empty());

  // One unconverged measurement: re-probe 1 after the backoff.
  rows[0] = probe_row(1, 0, TrialState::Completed, kUnconverged);
  rows[0].metrics["median_ci_low_ms"] = 2.0;
  rows[0].metrics["median_ci_high_ms"] = 3.0;
  rows.push_back(probe_row(2, 1, TrialState::Completed, kUnconverged));  // another candidate
  auto e = study::after_probe_round(rows, 0, p, policy, now);
  REQUIRE(e.size() == 2);
  CHECK(at<study::QueueTrial>(e, 0).kind == TrialKind::Probe);
  CHECK(at<study::QueueTrial>(e, 0).candidate == 0);
  CHECK(at<study::QueueTrial>(e, 0).note == " reprobe 1");
  CHECK(at<study::QueueTrial>(e, 0).not_before_ms == now + 1000);
  CHECK(at<study::ReprobeQueued>(e, 1).message ==
        "candidate 0: latency 2.500 ms (95% CI 2.000-3.000) did not converge; re-probe 1 of 2 "
        "in 1.0 s (provisional until then)");

  // The second round did not converge either: re-probe 2, twice the wait.
  rows.push_back(probe_row(3, 0, TrialState::Completed, kUnconverged, 2.7));
  e = study::after_probe_round(rows, 0, p, policy, now);
  CHECK(at<study::QueueTrial>(e, 0).note == " reprobe 2");
  CHECK(at<study::QueueTrial>(e, 0).not_before_ms == now + 2000);

  // A later round converged: the series is over.
  std::vector<TrialRow> converged = rows;
  converged.push_back(probe_row(4, 0, TrialState::Completed, {{kProbeConvergedMetric, 1}}));
  CHECK(study::after_probe_round(converged, 0, p, policy, now).empty());

  // The re-probes are spent (a failed round counts as one): the latest
  // measurement is marked.
  rows.push_back(probe_row(4, 0, TrialState::Failed, {}));
  e = study::after_probe_round(rows, 0, p, policy, now);
  REQUIRE(e.size() == 1);
  const auto& mark = at<study::MarkUnconverged>(e, 0);
  CHECK(mark.row.id == 3);
  CHECK(mark.row.metrics.at(kLatencyUnconvergedMetric) == 1);
  CHECK(mark.message ==
        "candidate 0: latency did not converge in 3 probes; counted: the latest, 2.700 ms");

  // No re-probes allowed: marked at once.
  e = study::after_probe_round({rows[0]}, 0, p, {0, 1000}, now);
  REQUIRE(e.size() == 1);
  CHECK(at<study::MarkUnconverged>(e, 0).message.find("in 1 probe;") != std::string::npos);
}
