#pragma once
// The one Pareto and constraint arithmetic of the daemon (selection, skipped
// flash) and the client (report). Pure functions over values; no I/O.
// (daemon/bo/ keeps its own copy for the engine: it depends on nothing.)
//
// Every objective is MAXIMIZED here: negate a minimized objective first.
// a dominates b when a >= b in every objective and a > b in at least one.

#include <cstddef>
#include <map>
#include <memory>
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

// Whether `value` is not beyond the constraint's bound (<= or >=); NaN is.
bool within(const wire::ConstraintT& constraint, double value);

// The first constraint `values` violates, or nullptr. With `missing_violates`
// a constraint whose metric is absent from `values` counts as violated (a
// complete candidate), otherwise it is passed over (a partial measurement).
// `value`, when given, gets the violating value (NaN when it was missing).
const wire::ConstraintT* violated_constraint(
    const std::vector<std::unique_ptr<wire::ConstraintT>>& constraints,
    const std::map<std::string, double>& values, bool missing_violates, double* value = nullptr);

// "latency_ms 12 violates the constraint latency_ms <= 10".
std::string violation_text(const wire::ConstraintT& constraint, double value);

}  // namespace autodistill
