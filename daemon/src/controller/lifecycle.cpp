// The study and trial lifecycles: suggestions, candidates and their trials
// (probe -> flash | skipped -> regular, study/candidate_book.hpp), trial
// endings, cancellation. The decisions of study/lifecycle.hpp (probe ->
// flash | skipped, the end of exploration, selection for regular, the GLUE
// step, the end of finalizing) come back as effects: apply() applies them.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>
#include <chrono>
#include <variant>

#include "autodistill/daemon/log.hpp"
#include "autodistill/probe_choice.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

void Controller::refill(Study& s) {
  if (s.state() != StudyState::Exploring || shutting_down_ || s.suggesting) {
    return;
  }
  if (!s.wall_spent && s.spec.max_wall_seconds > 0 &&
      now_() - s.row.created_ms >= int64_t{1000} * s.spec.max_wall_seconds) {
    s.wall_spent = true;
    event(s, "wall_budget_spent", 0, 0,
          "max_wall_seconds " + std::to_string(s.spec.max_wall_seconds) + " passed after " +
              std::to_string(explored(s)) + " candidates; no new candidates");
    LOG_INFO("study " << s.row.id << ": max_wall_seconds passed; exploration stops proposing");
  }
  if (s.exhausted || s.wall_spent || s.book.open_candidates() >= s.parallelism ||
      explored(s) >= s.spec.max_trials) {
    return;
  }
  const size_t want =
      std::min<size_t>(s.parallelism - s.book.open_candidates(), s.spec.max_trials - explored(s));
  s.suggesting = true;
  ++suggestions_in_flight_;
  auto seconds = std::make_shared<double>(0.0);
  SuggestJob job = [inner = s.proposer->prepare(want, cancel_suggestions_), seconds] {
    const auto started = std::chrono::steady_clock::now();
    std::vector<Params> out = inner();
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
  };
  auto deliver = [this, id = s.row.id, epoch = epoch_, seconds](std::vector<Params> proposals) {
    --suggestions_in_flight_;
    metrics_.suggestion.observe(*seconds);
    on_suggestions(id, epoch, std::move(proposals));
  };
  if (runner_) {
    runner_(std::move(job), std::move(deliver));
    // Deferred model fits (docs/bo.md), queued behind the suggestion.
    if (auto work = background_ ? s.proposer->background() : nullptr) background_(std::move(work));
  } else {
    deliver(job());
  }
}

void Controller::on_suggestions(uint64_t study_id, uint64_t epoch, std::vector<Params> proposals) {
  if (epoch != epoch_) return;
  auto it = studies_.find(study_id);
  if (it == studies_.end()) return;
  Study& s = *it->second;
  // Cancelled, ended or shutting down meanwhile: nothing was stored, so
  // nothing is lost (after a restart the study suggests again).
  if (s.state() != StudyState::Exploring || shutting_down_) {
    s.suggesting = false;
    return;
  }
  if (proposals.empty()) {
    s.exhausted = true;
    LOG_INFO("study " << s.row.id << ": the design space is exhausted after " << explored(s)
                      << " candidates");
  }
  // Pending for the proposer before any is added: a cached probe can finish
  // a candidate at once, and the next suggestion must see all of them.
  for (const Params& p : proposals) s.proposer->add_known(p);
  for (Params& p : proposals) add_candidate(s, std::move(p));
  s.suggesting = false;
  maybe_advance(s);
}

void Controller::add_candidate(Study& s, Params params) {
  const uint32_t candidate = s.book.propose();
  const std::string note = s.has_baseline && candidate == 0 ? " baseline" : "";
  if (s.spec.kind == StudyKind::External) {
    queue_trial(s, candidate, TrialKind::External, params, note);
  } else if (!study_uses(s.spec, TrialKind::Probe)) {
    if (study_uses(s.spec, TrialKind::Flash)) {
      queue_trial(s, candidate, TrialKind::Flash, params, note);
    }
  } else if (std::map<std::string, double> cached;
             complete_from_cache(s, candidate, params, &cached)) {
    after_probe(s, candidate, params, cached);  // probe first: here from the cache
  } else {
    queue_trial(s, candidate, TrialKind::Probe, params, note);
  }
  if (!s.book.open(candidate)) {
    // Nothing left to run (a cached probe and no flash).
    if (s.book.skipped(candidate))
      s.proposer->observe_failure(params);
    else
      s.proposer->finish(params);
  }
}

bool Controller::queue_trial(Study& s, uint32_t candidate, TrialKind kind, const Params& params,
                             const std::string& note, int64_t not_before_ms) {
  auto t = std::make_unique<Trial>();
  t->row.study_id = s.row.id;
  t->row.candidate = candidate;
  t->row.kind = kind;
  t->row.state = TrialState::Queued;
  t->row.attempt = 1;
  t->row.params = params;
  t->row.updated_ms = now_();
  t->row.id = store_.insert_trial(t->row);
  if (t->row.id == 0) return false;  // the batch fails at commit
  t->role = role_of(kind);
  t->objectives = objectives_for(s.spec, kind);
  t->ranks = ranks_for(s.spec, kind);
  t->not_before_ms = not_before_ms;
  t->ready_ms = std::max(t->row.updated_ms, not_before_ms);
  s.ready[static_cast<int>(t->role)].push_back(t->row.id);
  s.book.queued(candidate, kind);
  event(s, "trial_queued", t->row.id, 1, wire::EnumNameTrialKind(kind) + note);
  trials_.emplace(t->row.id, std::move(t));
  return true;
}

void Controller::after_probe(Study& s, uint32_t candidate, const Params& params,
                             const std::map<std::string, double>& probe_values) {
  apply(s, study::after_probe(view_of(s), candidate, params, probe_values,
                              [&] { return s.proposer->score(params); }));
}

bool Controller::skip_flash(Study& s, uint32_t candidate, const Params& params,
                            const std::string& why) {
  TrialRow row;
  row.study_id = s.row.id;
  row.candidate = candidate;
  row.kind = TrialKind::Flash;
  row.state = TrialState::Cancelled;
  row.attempt = 1;
  row.params = params;
  row.error_code = static_cast<int>(Code::kCancelled);
  row.error_message = "skipped: " + why;
  row.updated_ms = now_();
  row.id = store_.insert_trial(row);
  if (row.id == 0) return false;
  store_.update_trial(row);  // insert_trial() stores no outcome fields
  s.book.fold(row);          // a flash that ended at once: skipped
  metrics_.flash_skipped++;
  event(s, "flash_skipped", row.id, 1, why);
  LOG_INFO("study " << s.row.id << " candidate " << candidate << ": flash skipped (" << why << ")");
  return true;
}

bool Controller::complete_from_cache(Study& s, uint32_t candidate, const Params& params,
                                     std::map<std::string, double>* measured) {
  auto tag = fingerprints_by_tag_.find(s.spec.hardware_tag);
  if (tag == fingerprints_by_tag_.end()) return false;
  const std::string arch = arch_key(params);
  const std::string serving = serving_key(s.spec.settings_json);
  const std::vector<std::string> wanted = objectives_for(s.spec, TrialKind::Probe);
  for (const std::string& fingerprint : tag->second) {
    auto hit = store_.find_probe(arch, serving, fingerprint);
    if (!hit || !hit.value()) continue;
    const Values& cached = hit.value()->objectives;
    std::map<std::string, double> objectives;
    for (const std::string& name : wanted) {
      auto value = cached.find(name);
      if (value == cached.end()) break;
      objectives[name] = value->second;
    }
    if (objectives.size() != wanted.size()) continue;
    Values metrics = hit.value()->metrics;
    metrics["cached_from_trial"] = static_cast<double>(hit.value()->trial_id);
    TrialRow row;
    row.study_id = s.row.id;
    row.candidate = candidate;
    row.kind = TrialKind::Probe;
    row.state = TrialState::Completed;
    row.params = params;
    row.updated_ms = now_();
    row.id = store_.insert_trial(row);
    if (row.id == 0) return false;
    row.objectives = objectives;
    row.metrics = std::move(metrics);
    row.fingerprint = fingerprint;
    row.progress = 1;
    store_.update_trial(row);
    s.book.fold(row);  // a probe that completed at once
    event(s, "trial_completed", row.id, 1,
          "cached measurement of trial " + std::to_string(hit.value()->trial_id));
    s.proposer->observe(params, objectives);
    *measured = std::move(objectives);
    return true;
  }
  return false;
}

void Controller::finish_trial(Trial& t, TrialState state) {
  const uint64_t id = t.row.id;
  auto found = studies_.find(t.row.study_id);
  if (found == studies_.end()) return drop_orphan(t);
  Study& s = *found->second;
  release_ranks(t);
  t.row.state = state;
  t.row.lease_expires_ms = 0;
  t.row.updated_ms = now_();
  store_.update_trial(t.row);
  drop_checkpoint(id);
  const char* kind = state == TrialState::Completed ? "trial_completed"
                     : state == TrialState::Failed  ? "trial_failed"
                                                    : "trial_cancelled";
  event(s, kind, id, t.row.attempt, t.row.error_message);
  const uint32_t candidate = t.row.candidate;
  const bool completed = state == TrialState::Completed;
  const TrialKind trial_kind = t.row.kind;
  const Params params = t.row.params;
  const Values values = t.row.objectives;
  const bool converged = probe_converged(t.row.metrics);
  trials_.erase(id);  // t is gone from here on

  // Probe first: the candidate's flash trial follows its first completed
  // probe (queued before the probe closes, so the candidate stays open); a
  // re-probe (the candidate was probed before) only refines the latency.
  if (trial_kind == TrialKind::Probe) {
    if (completed && !s.book.probed(candidate) && s.state() == StudyState::Exploring) {
      after_probe(s, candidate, params, values);
    }
    after_probe_round(s, candidate, params, completed, converged);
  }

  const study::Ended ended = s.book.ended(candidate, trial_kind, state);
  if (trial_kind == TrialKind::Finetune) {
    // Measures a delivered model: never the candidate's failure, nothing
    // for the proposer.
    if (ended.closed) candidate_finished(s, candidate);
    return;
  }
  if (ended.newly_failed) {
    s.proposer->observe_failure(params);
    // The candidate can no longer be complete: stop its sibling trials.
    std::vector<uint64_t> siblings;
    for (auto& [tid, other] : trials_) {
      if (other->row.study_id == s.row.id && other->row.candidate == candidate) {
        siblings.push_back(tid);
      }
    }
    cancel_trials(siblings, "a sibling trial of the candidate failed");
  }
  if (!s.book.open(candidate)) {
    if (s.book.skipped(candidate) && !s.book.failed(candidate))
      s.proposer->observe_failure(params);
    else if (!s.book.failed(candidate))
      s.proposer->finish(params);
    candidate_finished(s, candidate);
  }
}

void Controller::candidate_finished(Study& s, uint32_t) {
  maybe_advance(s);
}

void Controller::maybe_advance(Study& s) {
  if (s.state() == StudyState::Exploring) {
    refill(s);
    const study::StudyView v = view_of(s);
    if (shutting_down_ ||
        !study::exploration_over(v, {explored(s), s.exhausted, s.wall_spent, s.suggesting})) {
      return;
    }
    apply(s, study::end_exploration(v, store_.trials_of_study(s.row.id)));
  } else if (s.state() == StudyState::Finalizing) {
    // Delivered students: their GLUE step.
    if (!shutting_down_ && !apply(s, study::queue_finetunes(view_of(s)))) return;
    if (s.book.open_candidates() > 0) return;
    apply(s, study::end_finalizing(store_.trials_of_study(s.row.id)));
  }
}

void Controller::select_for_regular(Study& s) {
  auto trials = store_.trials_of_study(s.row.id);
  apply(s, study::select_for_regular(view_of(s), trials ? &trials.value() : nullptr));
}

study::StudyView Controller::view_of(const Study& s) const {
  return study::StudyView{s.spec, s.book, s.glue, s.has_baseline};
}

bool Controller::apply(Study& s, const study::Effects& effects) {
  struct Applier {
    Controller& c;
    Study& s;
    bool operator()(const study::QueueTrial& q) {
      return c.queue_trial(s, q.candidate, q.kind, q.params, q.note, q.not_before_ms);
    }
    bool operator()(const study::SetStudyState& e) {
      return c.set_study_state(s, e.state, e.message);
    }
    bool operator()(const study::SkipFlash& k) {
      return c.skip_flash(s, k.candidate, k.params, k.why);
    }
    bool operator()(const study::EmitEvent& e) {
      c.event(s, e.kind, 0, 0, e.message);
      return true;
    }
  };
  for (const study::Effect& effect : effects) {
    if (!std::visit(Applier{*this, s}, effect)) return false;
  }
  return true;
}

bool Controller::set_study_state(Study& s, StudyState state, const std::string& message) {
  if (s.row.state == state) return true;
  if (!study::transition_allowed(s.row.state, state)) {
    LOG_ERROR("study " << s.row.id << ": refused the transition " << study_state_name(s.row.state)
                       << " -> " << study_state_name(state)
                       << (message.empty() ? "" : " (" + message + ")"));
    return false;
  }
  s.row.state = state;
  s.row.message = message;
  s.row.updated_ms = now_();
  store_.update_study(s.row.id, state, message, s.row.updated_ms);
  event(s, "study_state", 0, 0,
        std::string(study_state_name(state)) + (message.empty() ? "" : ": " + message));
  if (is_terminal(state)) {
    ended_studies_.insert(s.row.id);
    LOG_INFO("study " << s.row.id << " " << study_state_name(state)
                      << (message.empty() ? "" : ": " + message));
  }
  return true;
}

void Controller::cancel_study(Study& s, const std::string& reason) {
  set_study_state(s, StudyState::Cancelled, reason);
  std::vector<uint64_t> ids;
  for (auto& [id, t] : trials_) {
    if (t->row.study_id == s.row.id) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  cancel_trials(ids, reason);
}

void Controller::cancel_trials(const std::vector<uint64_t>& ids, const std::string& reason) {
  for (uint64_t id : ids) {
    auto it = trials_.find(id);
    if (it == trials_.end()) continue;  // ended meanwhile (a cascade)
    Trial& t = *it->second;
    if (t.row.state == TrialState::Leased) cancel_ranks(t, reason);
    finish_trial(t, TrialState::Cancelled);
  }
}

}  // namespace autodistill::daemon
