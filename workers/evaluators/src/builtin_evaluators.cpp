#include "autodistill/worker/builtin_evaluators.hpp"

#include <algorithm>
#include <charconv>

namespace autodistill::worker {

namespace {
// How often SleepEvaluator reports progress.
constexpr std::chrono::milliseconds kProgressStep{100};
}  // namespace

std::map<std::string, double> quadratic_objectives(const TrialSpec& spec) {
  std::map<std::string, double> objectives;
  for (size_t j = 0; j < spec.objectives.size(); ++j) {
    const double centre = static_cast<double>(j);
    double sum = 0.0;
    for (const auto& [name, value] : spec.params) {
      if (const double* x = std::get_if<double>(&value)) sum += (*x - centre) * (*x - centre);
    }
    objectives[spec.objectives[j]] = sum;
  }
  return objectives;
}

autodistill::Result<TrialOutcome> QuadraticEvaluator::evaluate(TrialContext& ctx) {
  TrialOutcome outcome;
  outcome.objectives = quadratic_objectives(ctx.spec());
  return outcome;
}

autodistill::Result<TrialOutcome> SleepEvaluator::evaluate(TrialContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + duration_;
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= end) break;
    const double fraction = duration_.count() > 0 ? std::chrono::duration<double>(now - start) /
                                                        std::chrono::duration<double>(duration_)
                                                  : 1.0;
    ctx.report_progress(fraction, "sleeping");
    auto step = std::min<std::chrono::steady_clock::duration>(end - now, kProgressStep);
    if (ctx.wait_cancelled_for(std::chrono::ceil<std::chrono::milliseconds>(step))) {
      return Status(Code::kCancelled, "trial cancelled");
    }
  }
  ctx.report_progress(1.0, "done");
  return QuadraticEvaluator().evaluate(ctx);
}

autodistill::Result<std::unique_ptr<Evaluator>> make_builtin_evaluator(const std::string& name) {
  if (name == "quadratic") return std::unique_ptr<Evaluator>(new QuadraticEvaluator());
  const std::string prefix = "sleep:";
  if (name.rfind(prefix, 0) == 0) {
    const char* begin = name.data() + prefix.size();
    const char* end = name.data() + name.size();
    uint64_t ms = 0;
    auto [ptr, ec] = std::from_chars(begin, end, ms);
    if (ec == std::errc() && ptr == end && begin != end) {
      return std::unique_ptr<Evaluator>(new SleepEvaluator(std::chrono::milliseconds(ms)));
    }
  }
  return Status(Code::kInvalidArgument,
                "unknown builtin evaluator \"" + name + "\" (want quadratic or sleep:MS)",
                "builtin");
}

}  // namespace autodistill::worker
