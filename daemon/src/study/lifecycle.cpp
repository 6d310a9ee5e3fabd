#include "study/lifecycle.hpp"

#include <algorithm>
#include <sstream>

#include "autodistill/daemon/pareto.hpp"
#include "autodistill/pareto.hpp"
#include "autodistill/probe_choice.hpp"
#include "study/finetune_plan.hpp"
#include "study/trials.hpp"

namespace autodistill::daemon::study {

using wire::StudyKind;
using wire::StudyState;
using wire::TrialKind;
using wire::TrialState;

bool transition_allowed(StudyState from, StudyState to) {
  if (is_terminal(from) || from == to) return false;
  if (to == StudyState::Failed || to == StudyState::Cancelled) return true;
  switch (from) {
    case StudyState::Queued:
      return to == StudyState::Exploring;
    case StudyState::Exploring:
      return to == StudyState::Selecting || to == StudyState::Succeeded;
    case StudyState::Selecting:
      return to == StudyState::Finalizing;
    case StudyState::Finalizing:
      return to == StudyState::Succeeded;
    default:
      return false;
  }
}

std::string hopeless(const StudyView& v, const Values& probe_values,
                     const std::function<double()>& score) {
  double value = 0;
  if (const auto* c = violated_constraint(v.spec.constraints, probe_values, false, &value)) {
    return violation_text(*c, value);
  }
  if (v.book.complete() < kSkipFlashAfter) return "";
  const double improvement = score();
  if (improvement > kSkipFlashScore) return "";
  std::ostringstream why;
  why << "expected hypervolume improvement " << improvement << " <= " << kSkipFlashScore
      << " given its measured probe metrics";
  return why.str();
}

Effects after_probe(const StudyView& v, uint32_t candidate, const Params& params,
                    const Values& probe_values, const std::function<double()>& score) {
  if (v.spec.kind != StudyKind::Distill || !study_uses(v.spec, TrialKind::Flash)) return {};
  const bool baseline = v.has_baseline && candidate == 0;
  const std::string why =
      v.spec.skip_dominated_flash && !baseline ? hopeless(v, probe_values, score) : "";
  if (!why.empty()) return {SkipFlash{candidate, params, why}};
  return {QueueTrial{candidate, TrialKind::Flash, params, baseline ? " baseline" : "", 0}};
}

bool exploration_over(const StudyView& v, const Exploration& e) {
  const bool budget_spent = e.explored >= v.spec.max_trials || e.exhausted || e.wall_spent;
  return budget_spent && v.book.open_candidates() == 0 && !e.suggesting;
}

std::string unreadable_rows(const Status& status) {
  return "the study's trial rows could not be read: " + status.message();
}

Effects end_exploration(const StudyView& v, const Result<std::vector<TrialRow>>& trials) {
  if (v.spec.kind == StudyKind::Distill && study_uses(v.spec, TrialKind::Flash)) {
    return select_for_regular(v, trials ? &trials.value() : nullptr);
  }
  if (!trials) return {SetStudyState{StudyState::Failed, unreadable_rows(trials.status())}};
  size_t completed = 0;
  for (const TrialRow& t : *trials) completed += t.state == TrialState::Completed;
  if (completed > 0) {
    const uint32_t n = v.book.next_candidate();
    return {SetStudyState{StudyState::Succeeded, std::to_string(n - v.book.failed_candidates()) +
                                                     " of " + std::to_string(n) +
                                                     " candidates evaluated"}};
  }
  return {SetStudyState{StudyState::Failed, none_completed(*trials, "trials")}};
}

Effects select_for_regular(const StudyView& v, const std::vector<TrialRow>* trials) {
  Effects out{SetStudyState{StudyState::Selecting, ""}};
  if (!trials) return out;
  std::vector<uint32_t> chosen = selected_candidates(v.spec, *trials);
  if (chosen.empty()) {
    out.push_back(
        SetStudyState{StudyState::Failed, v.book.complete() > 0 && !v.spec.constraints.empty()
                                              ? "no candidate completed within the constraints"
                                              : none_completed(*trials, "trials")});
    return out;
  }
  // With GLUE tasks the baseline is distilled regularly too, whether chosen
  // or not, so the GLUE table compares it with the students at the same
  // budget (docs/study-spec.md, "GLUE tasks").
  std::string glue_baseline;
  if (!v.glue.tasks.empty() && v.has_baseline && v.book.stage(0) == Stage::kExplored &&
      std::find(chosen.begin(), chosen.end(), 0u) == chosen.end()) {
    chosen.insert(chosen.begin(), 0u);
    glue_baseline = "; baseline 0 for the GLUE table";
  }
  for (uint32_t c : chosen) {
    // The architecture: the candidate's latest stored row's params.
    const TrialRow* source = nullptr;
    for (const TrialRow& t : *trials) {
      if (t.candidate == c) source = &t;
    }
    out.push_back(QueueTrial{c, TrialKind::Regular, source ? source->params : Params{}, "", 0});
  }
  const bool topk = v.spec.selection && v.spec.selection->rule == wire::SelectionRule::TopK;
  std::string list;
  for (uint32_t c : chosen) list += (list.empty() ? "" : ", ") + std::to_string(c);
  out.push_back(EmitEvent{"selected", "candidates " + list + glue_baseline});
  out.push_back(SetStudyState{
      StudyState::Finalizing,
      std::to_string(chosen.size()) + (topk ? " top-k" : " Pareto") + " candidates chosen"});
  return out;
}

Effects queue_finetunes(const StudyView& v) {
  Effects out;
  for (const PlannedFinetune& p : owed_finetunes(v.glue, v.book)) {
    const std::string whose = p.candidate == kTeacherCandidate
                                  ? std::string("teacher")
                                  : "candidate " + std::to_string(p.candidate);
    out.push_back(QueueTrial{p.candidate, TrialKind::Finetune, finetune_params(p.task),
                             " " + p.task + " " + whose, 0});
  }
  return out;
}

Effects end_finalizing(const Result<std::vector<TrialRow>>& rows) {
  if (!rows) return {SetStudyState{StudyState::Failed, unreadable_rows(rows.status())}};
  const std::vector<TrialRow>& trials = rows.value();
  // The students are the Regular trials' output: say which failed. A
  // failed Finetune trial is shown, but the students were delivered.
  std::string finetuned = finetune_summary(trials);
  if (!finetuned.empty()) finetuned = "; " + finetuned;
  std::vector<TrialRow> regular;
  for (const TrialRow& t : trials) {
    if (t.kind == TrialKind::Regular) regular.push_back(t);
  }
  size_t done = 0;
  for (const TrialRow& t : regular) done += t.state == TrialState::Completed;
  if (done == regular.size()) {
    return {SetStudyState{StudyState::Succeeded,
                          "regular distillation of the selected candidates done" + finetuned}};
  }
  if (done == 0) {
    return {SetStudyState{StudyState::Failed, none_completed(regular, "regular trials")}};
  }
  return {SetStudyState{StudyState::Succeeded,
                        std::to_string(done) + " of " + std::to_string(regular.size()) +
                            " regular distillations done; " +
                            failure_summary(regular, "regular trials") + finetuned}};
}

static bool trial_terminal(TrialState state) {
  return state == TrialState::Completed || state == TrialState::Failed ||
         state == TrialState::Cancelled;
}

Effects finish_trial(const StudyView& v, const TrialView& t, TrialState state,
                     const std::function<double()>& score) {
  Effects out{RecordTrialEnd{t.id, state}};
  // Probe first: the candidate's flash trial follows its first completed
  // probe (queued before the probe closes, so the candidate stays open); a
  // re-probe (the candidate was probed before) only refines the latency.
  if (t.kind == TrialKind::Probe) {
    const bool completed = state == TrialState::Completed;
    const bool exploring = v.state == StudyState::Exploring;
    if (completed && !v.book.probed(t.candidate) && exploring) {
      for (Effect& e : after_probe(v, t.candidate, t.params, t.objectives, score)) {
        out.push_back(std::move(e));
      }
    }
    const bool converged = completed && probe_converged(t.metrics);
    if (!converged && exploring && !v.shutting_down && !v.book.failed(t.candidate)) {
      out.push_back(ReviewProbes{t.candidate, t.params});
    }
  }
  out.push_back(CloseInBook{t.candidate, t.kind, state, t.params});
  return out;
}

Effects after_close(TrialKind kind, uint32_t candidate, const Params& params, const Ended& ended) {
  if (kind == TrialKind::Finetune) {
    // Measures a delivered model: never the candidate's failure, nothing
    // for the proposer.
    if (ended.closed) return {CandidateDone{candidate}};
    return {};
  }
  Effects out;
  if (ended.newly_failed) {
    // The candidate can no longer be complete: stop its sibling trials.
    out.push_back(ObserveFailure{params});
    out.push_back(CancelCandidate{candidate, "a sibling trial of the candidate failed"});
  }
  out.push_back(SettleCandidate{candidate, params});
  return out;
}

Effects settle_candidate(const StudyView& v, uint32_t candidate, const Params& params) {
  if (v.book.open(candidate)) return {};
  Effects out;
  if (v.book.skipped(candidate) && !v.book.failed(candidate)) {
    out.push_back(ObserveFailure{params});
  } else if (!v.book.failed(candidate)) {
    out.push_back(FinishCandidate{params});
  }
  out.push_back(CandidateDone{candidate});
  return out;
}

Effects requeue_or_fail(const StudyView& v, const TrialView& t, uint32_t max_attempts,
                        const std::string& reason, bool retryable, const std::string& ended_by) {
  if (trial_terminal(t.state)) return {};
  Effects out;
  // A gang attempt ends for every rank: the others are told.
  if (t.gang && t.state == TrialState::Leased) {
    out.push_back(CancelRanks{t.id, "the gang lost a rank: " + reason, ended_by});
  }
  out.push_back(ReleaseRanks{t.id});
  const bool active = v.state == StudyState::Exploring || v.state == StudyState::Finalizing;
  if (retryable && active && t.attempt < max_attempts) {
    out.push_back(RequeueTrial{t.id, reason});
  } else {
    out.push_back(FinishTrial{t.id, TrialState::Failed, reason});
  }
  return out;
}

Effects cancel_trial(const TrialView& t, const std::string& reason) {
  if (trial_terminal(t.state)) return {};
  Effects out;
  if (t.state == TrialState::Leased) out.push_back(CancelRanks{t.id, reason, ""});
  out.push_back(FinishTrial{t.id, TrialState::Cancelled, ""});
  return out;
}

Effects cancel_study(const std::string& reason, std::vector<uint64_t> live_trials) {
  std::sort(live_trials.begin(), live_trials.end());
  Effects out{SetStudyState{StudyState::Cancelled, reason}};
  for (uint64_t id : live_trials) out.push_back(CancelTrial{id, reason});
  return out;
}

Effects stale_result(const TrialView& t, uint32_t attempt) {
  if (attempt == t.attempt || t.state != TrialState::Leased) return {};
  return {
      CancelRanks{t.id, "a result for attempt " + std::to_string(attempt) + " arrived first", ""}};
}

}  // namespace autodistill::daemon::study
