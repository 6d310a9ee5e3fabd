#pragma once
// What a study's trials are, as pure functions of its spec and its stored
// rows: which role runs a trial kind, which objectives it reports, whether a
// study uses a kind at all, and how a set of trials failed (a study's
// message). No I/O.

#include <string>
#include <vector>

#include "autodistill/daemon/store.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon::study {

// Succeeded, failed or cancelled (a wire::StudyState).
bool is_terminal(wire::StudyState state);
const char* study_state_name(wire::StudyState state);

// The worker role that runs trials of `kind`.
wire::Role role_of(wire::TrialKind kind);

// The objectives a trial of `kind` must report.
std::vector<std::string> objectives_for(const wire::StudySpecT& spec, wire::TrialKind kind);

// Does the study need measurements from trials of this kind at all?
bool study_uses(const wire::StudySpecT& spec, wire::TrialKind kind);

// How `trials` failed, for a study's message: "all 5 trials failed; last
// error: ..." or "3 of 5 trials failed, 2 cancelled; last error: ..."
// (`what` names the trials).
std::string failure_summary(const std::vector<TrialRow>& trials, const std::string& what);

// Why a study ends with nothing completed.
std::string none_completed(const std::vector<TrialRow>& trials, const std::string& what);

}  // namespace autodistill::daemon::study
