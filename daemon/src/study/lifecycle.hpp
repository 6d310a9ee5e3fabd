#pragma once
// A study's lifecycle decisions as pure functions that return effects: no
// I/O, no clock, no proposer. The controller gathers what they read (the
// spec, the candidate book, the stored trial rows) and applies the effects
// they return in one place (Controller::apply, controller/lifecycle.cpp):
// store writes, the ready queues, events.
//
// The study state machine, with its only allowed transitions:
//
//   Queued -> Exploring -> Selecting -> Finalizing -> Succeeded | Failed
//                       \-> Succeeded | Failed        (no regular step)
//   Selecting -> Failed                               (nothing selectable)
//   any non-terminal state -> Failed | Cancelled
//
// Succeeded, Failed and Cancelled are terminal: nothing leaves them.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "autodistill/daemon/store.hpp"
#include "autodistill/glue_settings.hpp"
#include "autodistill/status.hpp"
#include "autodistill/wire/codec.hpp"
#include "study/candidate_book.hpp"

namespace autodistill::daemon::study {

// May a study in state `from` move to `to`? (A move to the same state is
// not a transition: the controller ignores it.)
bool transition_allowed(wire::StudyState from, wire::StudyState to);

// --- effects

// Queue a new trial of the candidate (attempt 1), not leased before
// `not_before_ms`; its "trial_queued" event says the kind, then `note`.
struct QueueTrial {
  uint32_t candidate = 0;
  wire::TrialKind kind = wire::TrialKind::Probe;
  Params params;
  std::string note;
  int64_t not_before_ms = 0;
};

// Move the study to `state` (a "study_state" event; refused unless
// transition_allowed()).
struct SetStudyState {
  wire::StudyState state = wire::StudyState::Queued;
  std::string message;
};

// A study-level event (no trial): `kind` and its message.
struct EmitEvent {
  std::string kind;
  std::string message;
};

// Store a Flash trial of the candidate that ended at once: Cancelled,
// "skipped: " + why (a "flash_skipped" event; the candidate closes as skipped).
struct SkipFlash {
  uint32_t candidate = 0;
  Params params;
  std::string why;
};

// --- trial effects (a trial by id; one no longer live is skipped)

// Tell every rank still running the trial's current attempt (but the worker
// `except`) to stop (a Cancel each).
struct CancelRanks {
  uint64_t trial = 0;
  std::string reason;
  std::string except;
};

// Forget the attempt's holders (every rank): their sessions' leased sets.
struct ReleaseRanks {
  uint64_t trial = 0;
};

// Re-queue the trial as its next attempt (attempt + 1, Queued, resumed from
// its checkpoint when it has one; first in its ready queue; a
// "trial_requeued" event with `reason`).
struct RequeueTrial {
  uint64_t trial = 0;
  std::string reason;
};

// End the trial in `state` (Completed, Failed, Cancelled): the whole
// finish_trial() decision, applied. A Failed trial without an error gets
// kTrialError and `reason`.
struct FinishTrial {
  uint64_t trial = 0;
  wire::TrialState state = wire::TrialState::Failed;
  std::string reason;
};

// Cancel the trial if it is still live: the cancel_trial() decision, applied.
struct CancelTrial {
  uint64_t trial = 0;
  std::string reason;
};

// Store the trial's end: its state, no lease, its checkpoint dropped, a
// "trial_completed|failed|cancelled" event; the controller forgets it.
struct RecordTrialEnd {
  uint64_t trial = 0;
  wire::TrialState state = wire::TrialState::Failed;
};

// Read the study's rows and apply after_probe_round() (study/reprobe.hpp)
// for the candidate: a re-probe, or its latest measurement marked.
struct ReviewProbes {
  uint32_t candidate = 0;
  Params params;
};

// Fold the trial's end into the candidate book (CandidateBook::ended), then
// apply after_close() with what it changed.
struct CloseInBook {
  uint32_t candidate = 0;
  wire::TrialKind kind = wire::TrialKind::Probe;
  wire::TrialState state = wire::TrialState::Failed;
  Params params;
};

// Cancel the candidate's live trials (its siblings): cancel_trial() each.
struct CancelCandidate {
  uint32_t candidate = 0;
  std::string reason;
};

// Apply settle_candidate() for the candidate, with the book as it is then.
struct SettleCandidate {
  uint32_t candidate = 0;
  Params params;
};

// Tell the proposer: the candidate failed / finished (its measurements are
// all in).
struct ObserveFailure {
  Params params;
};
struct FinishCandidate {
  Params params;
};

// The candidate has no open trial left: the study may advance.
struct CandidateDone {
  uint32_t candidate = 0;
};

// A re-probe was queued (the QueueTrial before this one): a
// "reprobe_queued" event on that trial with `message`, counted.
struct ReprobeQueued {
  std::string message;
};

// The re-probes are spent: store `row` (the latest measurement, marked
// latency_unconverged), a "latency_unconverged" event with `message`.
struct MarkUnconverged {
  TrialRow row;
  std::string message;
};

// Suggestions (study/suggestions.hpp).
// max_wall_seconds passed: nothing new is proposed from now on; a
// "wall_budget_spent" event with `message`.
struct SpendWallBudget {
  std::string message;
};
// Ask the proposer for `count` candidates: one suggestion job, in flight
// until its proposals come back (take_suggestions()).
struct AskProposer {
  size_t count = 0;
};
// The proposer had nothing left to propose after `explored` candidates.
struct MarkExhausted {
  uint32_t explored = 0;
};
// Tell the proposer `params` is pending (proposed, not measured yet).
struct AddPending {
  Params params;
};
// Make `params` the study's next candidate: first_trial(), then
// settle_proposed(), with the book as it is then.
struct AddCandidate {
  Params params;
};
// Probe the candidate: complete its probe from the probe cache (then
// after_probe()), else queue its Probe trial (`note` as QueueTrial's).
struct ProbeCandidate {
  uint32_t candidate = 0;
  Params params;
  std::string note;
};
// The suggestion in flight is over.
struct EndSuggestion {};
// Let the study move on (more suggestions, the end of exploration, ...).
struct AdvanceStudy {};

using Effect =
    std::variant<QueueTrial, SetStudyState, EmitEvent, SkipFlash, CancelRanks, ReleaseRanks,
                 RequeueTrial, FinishTrial, CancelTrial, RecordTrialEnd, ReviewProbes, CloseInBook,
                 CancelCandidate, SettleCandidate, ObserveFailure, FinishCandidate, CandidateDone,
                 ReprobeQueued, MarkUnconverged, SpendWallBudget, AskProposer, MarkExhausted,
                 AddPending, AddCandidate, ProbeCandidate, EndSuggestion, AdvanceStudy>;
// Applied in order; the controller stops at the first that fails (a store
// write that fails the batch, a refused transition).
struct Effects : std::vector<Effect> {
  using std::vector<Effect>::vector;
};

// --- what the decisions read

struct StudyView {
  const wire::StudySpecT& spec;
  const CandidateBook& book;
  const GlueSettings& glue;   // settings.glue (no tasks: no Finetune trials)
  bool has_baseline = false;  // candidate 0 is spec.baseline
  wire::StudyState state = wire::StudyState::Exploring;
  bool shutting_down = false;  // the daemon is stopping: nothing new is queued
};

// What the trial decisions read of one live trial.
struct TrialView {
  uint64_t id = 0;
  uint32_t candidate = 0;
  wire::TrialKind kind = wire::TrialKind::Probe;
  wire::TrialState state = wire::TrialState::Queued;  // Queued or Leased while live
  uint32_t attempt = 1;
  bool gang = false;  // leased to more than one rank
  Params params;
  Values objectives;
  Values metrics;
};

// Where exploration stands (the controller's counters).
struct Exploration {
  uint32_t explored = 0;    // candidates proposed by the engine (the baseline excluded)
  bool exhausted = false;   // the design space is exhausted
  bool wall_spent = false;  // max_wall_seconds passed
  bool suggesting = false;  // a suggestion is in flight
};

// skip_dominated_flash: a probed candidate whose expected hypervolume
// improvement (standardized objective units) is at most this is hopeless
// (calibration in docs/study-spec.md and tests/daemon/proposer_test.cpp).
inline constexpr double kSkipFlashScore = 1e-2;
// ... judged only once this many candidates of the study are complete (the
// engine's models need two measurements of every objective).
inline constexpr size_t kSkipFlashAfter = 2;

// --- decisions

// Why a probed candidate's flash is not worth running, or "": a measured
// probe metric outside a constraint (it can never be selected), or, once
// kSkipFlashAfter candidates are complete, `score()` (the engine's expected
// hypervolume improvement given the probe metrics) <= kSkipFlashScore.
// `score` is called only then.
std::string hopeless(const StudyView& v, const Values& probe_values,
                     const std::function<double()>& score);

// The candidate's first probe completed (its values `probe_values`) while
// the study explores: a Distill study with flash trials queues the flash
// (note " baseline" for the baseline), or, with skip_dominated_flash and a
// hopeless() candidate that is not the baseline, skips it; other studies:
// nothing.
Effects after_probe(const StudyView& v, uint32_t candidate, const Params& params,
                    const Values& probe_values, const std::function<double()>& score);

// Is an Exploring study's exploration over: its budget spent (max_trials,
// the design space or the wall clock), no candidate open, no suggestion in
// flight?
bool exploration_over(const StudyView& v, const Exploration& e);

// Exploration is over: a Distill study with flash trials selects for regular
// distillation (select_for_regular()); any other study ends, Succeeded when
// a trial completed, else Failed. `trials`: the study's stored rows, or why
// they could not be read (then a study without a regular step fails, saying
// so; a Distill one only selects: recovery selects again).
Effects end_exploration(const StudyView& v, const Result<std::vector<TrialRow>>& trials);

// Selection for regular distillation: Selecting; then, from the stored rows,
// one Regular trial per selected candidate (spec.selection; with GLUE tasks
// the explored baseline too, for the GLUE table), a "selected" event and
// Finalizing; or Failed when no candidate is selectable. With `trials` null
// (unreadable) only Selecting: recovery selects again.
Effects select_for_regular(const StudyView& v, const std::vector<TrialRow>* trials);

// The Finetune trials the study owes now (settings.glue,
// study/finetune_plan.hpp), as QueueTrial effects.
Effects queue_finetunes(const StudyView& v);

// A Finalizing study with no candidate open ends: Succeeded when its
// Regular trials delivered a student (saying which failed and how the
// Finetune trials went), Failed when none did; Failed, naming what could
// not be read, when the rows are unreadable (`trials` holds the error):
// never a success that nothing shows.
Effects end_finalizing(const Result<std::vector<TrialRow>>& trials);

// The study's message when its trial rows could not be read.
std::string unreadable_rows(const Status& status);

// --- trial decisions

// The trial ends in `state` (Completed, Failed or Cancelled):
// RecordTrialEnd; for a Probe, a first completed probe of an Exploring
// study gets after_probe()'s effects (the flash queued before the probe
// closes, so the candidate stays open), and a probe round that did not end
// in a converged measurement gets ReviewProbes (an Exploring study, not
// shutting down, the candidate not failed); then CloseInBook.
Effects finish_trial(const StudyView& v, const TrialView& t, wire::TrialState state,
                     const std::function<double()>& score);

// After CloseInBook folded the trial's end (`ended`: what it changed): a
// Finetune trial only settles its candidate (CandidateDone when closed:
// never the candidate's failure, nothing for the proposer); any other that
// failed the candidate now tells the proposer (ObserveFailure) and cancels
// its siblings (CancelCandidate); then SettleCandidate.
Effects after_close(wire::TrialKind kind, uint32_t candidate, const Params& params,
                    const Ended& ended);

// A candidate with no open trial left: the proposer hears of it (a skipped
// flash: ObserveFailure; a complete candidate: FinishCandidate; a failed
// one heard already) and CandidateDone. An open candidate: nothing.
Effects settle_candidate(const StudyView& v, uint32_t candidate, const Params& params);

// The trial's attempt ended without a result (`retryable`: a retryable
// Failure, a lease expiry, a worker gone; `ended_by`: the worker whose
// report or expiry ended it). A gang's other ranks are told (CancelRanks,
// "the gang lost a rank: " + reason) while it is leased; the ranks are
// released; then RequeueTrial while the study runs (Exploring or
// Finalizing) and attempt < max_attempts, else FinishTrial Failed.
Effects requeue_or_fail(const StudyView& v, const TrialView& t, uint32_t max_attempts,
                        const std::string& reason, bool retryable, const std::string& ended_by);

// Cancel one trial: a leased one's ranks are told (CancelRanks), then
// FinishTrial Cancelled. A trial that already ended: nothing.
Effects cancel_trial(const TrialView& t, const std::string& reason);

// Cancel the study: Cancelled, then CancelTrial for each live trial (by id,
// ascending).
Effects cancel_study(const std::string& reason, std::vector<uint64_t> live_trials);

// A Result for `attempt` arrived while `t` is live: a result of an earlier
// attempt still counts (once), so the attempt running now is stopped
// (CancelRanks). The current attempt's result: nothing.
Effects stale_result(const TrialView& t, uint32_t attempt);

}  // namespace autodistill::daemon::study
