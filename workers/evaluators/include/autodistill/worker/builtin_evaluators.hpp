#pragma once
// Built-in evaluators for trying autodistill without writing one: a
// deterministic quadratic with known optima, and the same after an
// interruptible sleep (a stand-in for a slow trial). Thread-safe.

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "autodistill/worker/evaluator.hpp"

namespace autodistill::worker {

// Objective j (the j-th name in spec.objectives, j from 0) is
//   f_j(x) = sum_i (x_i - j)^2
// over the numeric params x_i (categorical params are ignored), so objective
// j is minimal (0) at x_i = j: distinct centres make the objectives conflict
// and the Pareto front non-trivial.
std::map<std::string, double> quadratic_objectives(const TrialSpec& spec);

class QuadraticEvaluator : public Evaluator {
 public:
  autodistill::Result<TrialOutcome> evaluate(TrialContext& ctx) override;
};

// Sleeps `duration` (reporting progress, waking at once on cancel), then
// evaluates the quadratic. A cancelled trial returns kCancelled.
class SleepEvaluator : public Evaluator {
 public:
  explicit SleepEvaluator(std::chrono::milliseconds duration) : duration_(duration) {}
  autodistill::Result<TrialOutcome> evaluate(TrialContext& ctx) override;

 private:
  const std::chrono::milliseconds duration_;
};

// "quadratic" or "sleep:MS" (MS a whole number of milliseconds).
// kInvalidArgument (field "builtin") for anything else.
autodistill::Result<std::unique_ptr<Evaluator>> make_builtin_evaluator(const std::string& name);

}  // namespace autodistill::worker
