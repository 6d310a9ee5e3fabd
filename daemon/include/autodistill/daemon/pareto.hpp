#pragma once
// The Pareto set of a study's evaluated candidates.
//
// A candidate's objective vector merges the objectives of its exploration
// trials (probe + flash for Distill studies, the one External trial
// otherwise); it counts only when every such trial completed and every
// objective is present. Candidates that violate a constraint (checked on
// objectives and metrics) are excluded. Candidate a dominates b when it is
// no worse in every objective and strictly better in one.

#include <cstdint>
#include <vector>

#include "autodistill/daemon/store.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

// Candidate indices of the non-dominated feasible candidates, ascending.
std::vector<uint32_t> pareto_candidates(const wire::StudySpecT& spec,
                                        const std::vector<TrialRow>& trials);

}  // namespace autodistill::daemon
