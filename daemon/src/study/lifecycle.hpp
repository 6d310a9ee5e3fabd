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

using Effect = std::variant<QueueTrial, SetStudyState, EmitEvent, SkipFlash>;
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

}  // namespace autodistill::daemon::study
