#pragma once
// The one Pareto and constraint arithmetic of the project: the BO engine
// (daemon/bo: its front and constraint checks), the daemon (selection,
// skipped flash, the web view's front) and the client (report, CLI
// progress) all call these. Pure functions over values; no I/O.
//
// Every objective is MAXIMIZED here: negate a minimized objective first.
// a dominates b when a >= b in every objective and a > b in at least one.

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autodistill_generated.h"

namespace autodistill {

using ObjectiveVector = std::vector<double>;

// a >= b in every objective and a > b in at least one.
bool dominates(const ObjectiveVector& a, const ObjectiveVector& b);

// Indices of the points no other point dominates, ascending. Equal points
// are all kept.
std::vector<size_t> pareto_front(const std::vector<ObjectiveVector>& points);

// Whether `value` is not beyond `bound` (comparison LessEqual: value <= bound,
// GreaterEqual: value >= bound; a value at its bound is within). A NaN is
// not beyond any bound: it is within.
bool within(wire::Comparison comparison, double bound, double value);
bool within(const wire::ConstraintT& constraint, double value);

// The first constraint `values` violates, or nullptr. With `missing_violates`
// a constraint whose metric is absent from `values` counts as violated (a
// complete candidate), otherwise it is passed over (a partial measurement).
// `value`, when given, gets the violating value (NaN when it was missing).
const wire::ConstraintT* violated_constraint(
    const std::vector<std::unique_ptr<wire::ConstraintT>>& constraints,
    const std::map<std::string, double>& values, bool missing_violates, double* value = nullptr);

// A candidate's point for the Pareto front: the values of spec.objectives
// (in that order, a minimized one negated) from `values` (its objectives and
// metrics by name), or nullopt when an objective is missing or not finite,
// or a constraint of spec.constraints is violated (violated_constraint() with
// `missing_violates`). The daemon's front, the report's and the CLI
// progress's all come from this and pareto_front().
std::optional<ObjectiveVector> feasible_objectives(const wire::StudySpecT& spec,
                                                   const std::map<std::string, double>& values,
                                                   bool missing_violates = true);

// "latency_ms 12 violates the constraint latency_ms <= 10".
std::string violation_text(const wire::ConstraintT& constraint, double value);

}  // namespace autodistill
