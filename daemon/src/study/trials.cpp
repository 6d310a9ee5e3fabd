#include "study/trials.hpp"

#include <algorithm>

#include "autodistill/daemon/study_spec.hpp"

namespace autodistill::daemon::study {

using wire::Role;
using wire::StudyState;
using wire::TrialKind;
using wire::TrialState;

bool is_terminal(StudyState state) {
  return state >= StudyState::Succeeded;
}

const char* study_state_name(StudyState state) {
  return wire::EnumNameStudyState(state);
}

Role role_of(TrialKind kind) {
  switch (kind) {
    case TrialKind::Probe:
      return Role::Probe;
    case TrialKind::Flash:
    case TrialKind::Regular:
    case TrialKind::Finetune:
      return Role::Distill;
    case TrialKind::External:
      return Role::External;
  }
  return Role::External;
}

static bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::vector<std::string> objectives_for(const wire::StudySpecT& spec, TrialKind kind) {
  // A GLUE fine-tuning reports its own scores (docs/distillation.md).
  if (kind == TrialKind::Finetune) return {"accuracy", "f1", "macro_f1"};
  std::vector<std::string> out;
  for (const auto& o : spec.objectives) {
    bool wanted = kind == TrialKind::External ||
                  (kind == TrialKind::Probe ? contains(distill_probe_metrics(), o->name)
                                            : contains(distill_accuracy_metrics(), o->name));
    if (wanted) out.push_back(o->name);
  }
  return out;
}

bool study_uses(const wire::StudySpecT& spec, TrialKind kind) {
  const auto& names =
      kind == TrialKind::Probe ? distill_probe_metrics() : distill_accuracy_metrics();
  for (const auto& o : spec.objectives) {
    if (contains(names, o->name)) return true;
  }
  for (const auto& c : spec.constraints) {
    if (contains(names, c->metric)) return true;
  }
  return false;
}

std::string failure_summary(const std::vector<TrialRow>& trials, const std::string& what) {
  size_t failed = 0, cancelled = 0;
  const TrialRow* last = nullptr;
  for (const TrialRow& t : trials) {
    if (t.state == TrialState::Cancelled) ++cancelled;
    if (t.state != TrialState::Failed) continue;
    ++failed;
    if (last == nullptr || t.updated_ms >= last->updated_ms) last = &t;
  }
  std::string why =
      failed == trials.size()
          ? "all " + std::to_string(failed) + " " + what + " failed"
          : std::to_string(failed) + " of " + std::to_string(trials.size()) + " " + what +
                " failed" + (cancelled > 0 ? ", " + std::to_string(cancelled) + " cancelled" : "");
  if (last != nullptr) why += "; last error: " + last->error_message;
  return why;
}

std::string none_completed(const std::vector<TrialRow>& trials, const std::string& what) {
  const bool all_failed = std::all_of(trials.begin(), trials.end(), [](const TrialRow& t) {
    return t.state == TrialState::Failed;
  });
  return (all_failed ? "" : "no candidate completed: ") + failure_summary(trials, what);
}

}  // namespace autodistill::daemon::study
