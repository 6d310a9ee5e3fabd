#pragma once
// The Pareto set of a study's evaluated candidates.
//
// A candidate's objective vector merges the objectives of its exploration
// trials (probe + flash for Distill studies, the one External trial
// otherwise); it counts only when every such trial completed and every
// objective is present. Of several completed probes (re-probes) only the
// one that counts is used: the latest converged, else the latest
// (autodistill/probe_choice.hpp). Candidates that violate a constraint (checked on
// objectives and metrics) are excluded. Candidate a dominates b when it is
// no worse in every objective and strictly better in one.

#include <cstdint>
#include <utility>
#include <vector>

#include "autodistill/daemon/store.hpp"
#include "autodistill/pareto.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

// The objective vectors of the complete, feasible candidates, oriented so
// that larger is better (a minimized objective negated), in the spec's
// objective order, by candidate index ascending.
std::vector<std::pair<uint32_t, ObjectiveVector>> feasible_points(
    const wire::StudySpecT& spec, const std::vector<TrialRow>& trials);

// Candidate indices of the non-dominated feasible candidates, ascending.
std::vector<uint32_t> pareto_candidates(const wire::StudySpecT& spec,
                                        const std::vector<TrialRow>& trials);

// The candidates spec.selection chooses for regular distillation, ascending:
//   Pareto (default): pareto_candidates(); when k > 0 and the front is larger,
//     the k that keep the most hypervolume: repeatedly drop the member with
//     the smallest exclusive hypervolume contribution (ties: the higher
//     candidate index), objectives normalized to [0, 1] over the feasible
//     complete candidates, reference point -0.1 in every objective.
//   TopK: the k feasible complete candidates with the best `metric` (its
//     objective's direction; ties: the lower candidate index).
std::vector<uint32_t> selected_candidates(const wire::StudySpecT& spec,
                                          const std::vector<TrialRow>& trials);

}  // namespace autodistill::daemon
