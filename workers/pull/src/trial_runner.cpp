#include "trial_runner.hpp"

#include <chrono>
#include <cmath>
#include <exception>
#include <memory>
#include <system_error>
#include <utility>

#include "autodistill/wire/codec.hpp"

namespace autodistill::worker {

namespace {

std::unique_ptr<wire::MetricT> metric(const std::string& name, double value) {
  auto m = std::make_unique<wire::MetricT>();
  m->name = name;
  m->value = value;
  return m;
}

Result<TrialOutcome> evaluate_guarded(TrialContext& ctx, Evaluator& evaluator) {
  try {
    return evaluator.evaluate(ctx);
  } catch (const std::exception& e) {
    return retryable_failure(std::string("evaluator threw: ") + e.what());
  } catch (...) {
    return retryable_failure("evaluator threw a non-standard exception");
  }
}

}  // namespace

wire::MessageUnion make_failure(uint64_t trial_id, uint32_t attempt, const Status& status) {
  wire::FailureT failure;
  failure.trial_id = trial_id;
  failure.attempt = attempt;
  failure.error = std::make_unique<wire::ErrorT>(wire::to_wire(status));
  failure.retryable = is_retryable(status);
  wire::MessageUnion body;
  body.Set(std::move(failure));
  return body;
}

std::optional<wire::MessageUnion> run_trial(TrialContext& ctx, const TrialEnvironment& env) {
  const TrialSpec& spec = ctx.spec();
  const auto start = std::chrono::steady_clock::now();
  Result<TrialOutcome> outcome = evaluate_guarded(ctx, env.evaluator);
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (ctx.cancelled()) return std::nullopt;
  if (!outcome) return make_failure(spec.trial_id, spec.attempt, outcome.status());

  wire::ResultT result;
  result.trial_id = spec.trial_id;
  result.attempt = spec.attempt;
  result.elapsed_ms = elapsed_ms;
  result.hardware_fingerprint = outcome->hardware_fingerprint.value_or(env.hardware_fingerprint);
  if (spec.gang && spec.gang->rank > 0) {
    // A rank > 0 only says it finished: rank 0 reports the objectives and
    // artifacts (docs/protocol.md "Gangs").
    result.rank = spec.gang->rank;
    for (const auto& [name, value] : outcome->metrics)
      result.metrics.push_back(metric(name, value));
    wire::MessageUnion body;
    body.Set(std::move(result));
    return body;
  }
  std::map<std::string, double> extra = outcome->metrics;
  std::map<std::string, double> reported = outcome->objectives;
  for (const std::string& name : spec.objectives) {
    auto it = reported.find(name);
    if (it == reported.end()) {
      return make_failure(
          spec.trial_id, spec.attempt,
          permanent_failure("the evaluator did not report objective \"" + name + "\"",
                            "objectives." + name));
    }
    if (!std::isfinite(it->second)) {
      return make_failure(spec.trial_id, spec.attempt,
                          permanent_failure("objective \"" + name + "\" is not a finite number",
                                            "objectives." + name));
    }
    result.objectives.push_back(metric(name, it->second));
    reported.erase(it);
  }
  for (auto& [name, value] : reported) extra.emplace(name, value);
  for (const auto& [name, value] : extra) result.metrics.push_back(metric(name, value));

  for (const ArtifactFile& file : outcome->artifacts) {
    if (file.name.empty()) {
      return make_failure(
          spec.trial_id, spec.attempt,
          permanent_failure("the artifact at " + file.path.string() + " has no name"));
    }
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(file.path, ec);
    if (ec) {
      return make_failure(spec.trial_id, spec.attempt,
                          retryable_failure("artifact \"" + file.name + "\" at " +
                                            file.path.string() + " is not a readable file"));
    }
    auto digest = env.upload(file.path, [&ctx] { return ctx.cancelled(); });
    if (ctx.cancelled()) return std::nullopt;
    if (!digest) {
      return make_failure(spec.trial_id, spec.attempt,
                          Status(Code::kUnavailable, "cannot upload artifact \"" + file.name +
                                                         "\": " + digest.status().to_string()));
    }
    auto artifact = std::make_unique<wire::ArtifactT>();
    artifact->name = file.name;
    artifact->digest = digest.value();
    artifact->size = size;
    result.artifacts.push_back(std::move(artifact));
  }
  wire::MessageUnion body;
  body.Set(std::move(result));
  return body;
}

}  // namespace autodistill::worker
