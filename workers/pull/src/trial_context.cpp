#include "autodistill/worker/trial_context.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace autodistill::worker {

TrialSpec trial_spec_from_assign(const wire::AssignT& assign) {
  TrialSpec spec;
  spec.trial_id = assign.trial_id;
  spec.attempt = assign.attempt;
  spec.study_id = assign.study_id;
  spec.kind = assign.kind;
  for (const auto& param : assign.params) {
    if (!param) continue;
    if (!param->category.empty()) {
      spec.params[param->name] = param->category;
    } else {
      spec.params[param->name] = param->number;
    }
  }
  spec.objectives = assign.objectives;
  spec.settings_json = assign.settings_json;
  spec.teacher_digest = assign.teacher_digest;
  spec.corpus_digest = assign.corpus_digest;
  spec.hardware_tag = assign.hardware_tag;
  return spec;
}

TrialContext::TrialContext(TrialSpec spec, std::filesystem::path scratch_dir, BlobFetcher fetcher)
    : spec_(std::move(spec)), scratch_dir_(std::move(scratch_dir)), fetcher_(std::move(fetcher)) {}

void TrialContext::report_progress(double fraction, std::string message,
                                   std::map<std::string, double> metrics) {
  if (!std::isfinite(fraction)) fraction = 0.0;
  std::lock_guard lock(mu_);
  progress_.fraction = std::clamp(fraction, 0.0, 1.0);
  progress_.message = std::move(message);
  progress_.metrics = std::move(metrics);
}

ProgressReport TrialContext::progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

bool TrialContext::wait_cancelled_for(std::chrono::milliseconds duration) const {
  std::unique_lock lock(mu_);
  cancel_cv_.wait_for(lock, duration, [this] { return cancelled(); });
  return cancelled();
}

void TrialContext::cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_.store(true, std::memory_order_release);
  }
  cancel_cv_.notify_all();
}

Result<std::filesystem::path> TrialContext::fetch_blob(const std::string& digest) {
  if (!fetcher_) {
    return Status(Code::kFailedPrecondition, "this trial context has no blob source");
  }
  if (cancelled()) return Status(Code::kCancelled, "trial cancelled");
  return fetcher_(digest, [this] { return cancelled(); });
}

}  // namespace autodistill::worker
