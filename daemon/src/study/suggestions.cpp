#include "study/suggestions.hpp"

#include <algorithm>
#include <string>

#include "study/trials.hpp"

namespace autodistill::daemon::study {

using wire::StudyKind;
using wire::StudyState;
using wire::TrialKind;

Effects refill(const StudyView& v, const Exploration& e, uint32_t parallelism, int64_t created_ms,
               int64_t now_ms) {
  if (v.state != StudyState::Exploring || v.shutting_down || e.suggesting) return {};
  Effects out;
  bool wall_spent = e.wall_spent;
  if (!wall_spent && v.spec.max_wall_seconds > 0 &&
      now_ms - created_ms >= int64_t{1000} * v.spec.max_wall_seconds) {
    wall_spent = true;
    out.push_back(SpendWallBudget{"max_wall_seconds " + std::to_string(v.spec.max_wall_seconds) +
                                  " passed after " + std::to_string(e.explored) +
                                  " candidates; no new candidates"});
  }
  const size_t open = v.book.open_candidates();
  if (e.exhausted || wall_spent || open >= parallelism || e.explored >= v.spec.max_trials) {
    return out;
  }
  out.push_back(AskProposer{std::min<size_t>(parallelism - open, v.spec.max_trials - e.explored)});
  return out;
}

Effects take_suggestions(const StudyView& v, uint32_t explored, std::vector<Params> proposals) {
  if (v.state != StudyState::Exploring || v.shutting_down) return {EndSuggestion{}};
  Effects out;
  if (proposals.empty()) out.push_back(MarkExhausted{explored});
  for (const Params& p : proposals) out.push_back(AddPending{p});
  for (Params& p : proposals) out.push_back(AddCandidate{std::move(p)});
  out.push_back(EndSuggestion{});
  out.push_back(AdvanceStudy{});
  return out;
}

Effects first_trial(const StudyView& v, uint32_t candidate, const Params& params) {
  const std::string note = v.has_baseline && candidate == 0 ? " baseline" : "";
  if (v.spec.kind == StudyKind::External) {
    return {QueueTrial{candidate, TrialKind::External, params, note, 0}};
  }
  if (study_uses(v.spec, TrialKind::Probe)) return {ProbeCandidate{candidate, params, note}};
  if (study_uses(v.spec, TrialKind::Flash)) {
    return {QueueTrial{candidate, TrialKind::Flash, params, note, 0}};
  }
  return {};
}

Effects settle_proposed(const StudyView& v, uint32_t candidate, const Params& params) {
  if (v.book.open(candidate)) return {};
  if (v.book.skipped(candidate)) return {ObserveFailure{params}};
  return {FinishCandidate{params}};
}

}  // namespace autodistill::daemon::study
