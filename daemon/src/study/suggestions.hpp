#pragma once
// Suggestions as effects: when a study asks its proposer for candidates and
// how many, what becomes of the proposals, and which trial a new candidate
// starts with. No I/O, no clock (`now_ms` is passed in), no proposer: the
// controller runs the suggestion job (AskProposer) and applies the rest.
//
// A study in Exploring keeps `parallelism` candidates open while the
// engine's budget (spec.max_trials candidates, the baseline excluded) and
// its wall budget (spec.max_wall_seconds since the study was created) last
// and the design space is not exhausted; at most one suggestion is in
// flight.

#include <cstdint>
#include <vector>

#include "study/lifecycle.hpp"

namespace autodistill::daemon::study {

// Whether to ask for more candidates now. Nothing while not Exploring,
// shutting down or a suggestion is in flight. SpendWallBudget once the wall
// budget has passed (then nothing is asked for); else AskProposer for the
// open slots (parallelism - open candidates), at most the engine's budget
// left; nothing when either is 0 or the design space is exhausted.
Effects refill(const StudyView& v, const Exploration& e, uint32_t parallelism, int64_t created_ms,
               int64_t now_ms);

// A suggestion job's proposals came back (`explored`: candidates proposed
// so far). Not Exploring (cancelled, ended) or shutting down: only
// EndSuggestion (nothing was stored, nothing is lost). Else MarkExhausted
// when there are none, AddPending for every proposal before any becomes a
// candidate (a cached probe can complete one at once, and the next
// suggestion must see them all), AddCandidate each in order, EndSuggestion
// and AdvanceStudy.
Effects take_suggestions(const StudyView& v, uint32_t explored, std::vector<Params> proposals);

// The first trial of new candidate `candidate`: an External study's
// External trial; a study that measures latency probes it first
// (ProbeCandidate: the probe cache, else a Probe); one that only measures
// accuracy queues its Flash; one that measures neither, nothing. The
// baseline (candidate 0 of a study with one) says so in its note.
Effects first_trial(const StudyView& v, uint32_t candidate, const Params& params);

// A new candidate after its first trial: still open, nothing; else (a
// cached probe and no flash to run) the proposer hears it failed (its flash
// was skipped) or finished.
Effects settle_proposed(const StudyView& v, uint32_t candidate, const Params& params);

}  // namespace autodistill::daemon::study
