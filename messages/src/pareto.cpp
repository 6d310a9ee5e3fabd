#include "autodistill/pareto.hpp"

#include <cmath>
#include <sstream>

namespace autodistill {

bool dominates(const ObjectiveVector& a, const ObjectiveVector& b) {
  bool strictly = false;
  for (size_t j = 0; j < a.size() && j < b.size(); ++j) {
    if (a[j] < b[j]) return false;
    if (a[j] > b[j]) strictly = true;
  }
  return strictly;
}

std::vector<size_t> pareto_front(const std::vector<ObjectiveVector>& points) {
  std::vector<size_t> front;
  for (size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < points.size() && !dominated; ++j) {
      dominated = j != i && dominates(points[j], points[i]);
    }
    if (!dominated) front.push_back(i);
  }
  return front;
}

bool within(wire::Comparison comparison, double bound, double value) {
  // Written as "not beyond the bound": a NaN violates nothing (as it always has).
  return !(comparison == wire::Comparison::LessEqual ? value > bound : value < bound);
}

bool within(const wire::ConstraintT& constraint, double value) {
  return within(constraint.comparison, constraint.bound, value);
}

const wire::ConstraintT* violated_constraint(
    const std::vector<std::unique_ptr<wire::ConstraintT>>& constraints,
    const std::map<std::string, double>& values, bool missing_violates, double* value) {
  for (const auto& c : constraints) {
    auto it = values.find(c->metric);
    if (it == values.end()) {
      if (!missing_violates) continue;
      if (value) *value = std::nan("");
      return c.get();
    }
    if (!within(*c, it->second)) {
      if (value) *value = it->second;
      return c.get();
    }
  }
  return nullptr;
}

std::optional<ObjectiveVector> feasible_objectives(const wire::StudySpecT& spec,
                                                   const std::map<std::string, double>& values,
                                                   bool missing_violates) {
  if (violated_constraint(spec.constraints, values, missing_violates)) return std::nullopt;
  ObjectiveVector point;
  for (const auto& o : spec.objectives) {
    auto it = values.find(o->name);
    if (it == values.end() || !std::isfinite(it->second)) return std::nullopt;
    point.push_back(o->direction == wire::Direction::Maximize ? it->second : -it->second);
  }
  return point;
}

std::string violation_text(const wire::ConstraintT& constraint, double value) {
  std::ostringstream why;
  why << constraint.metric << " " << value << " violates the constraint " << constraint.metric
      << (constraint.comparison == wire::Comparison::LessEqual ? " <= " : " >= ")
      << constraint.bound;
  return why.str();
}

}  // namespace autodistill
