// The study and trial lifecycles: suggestions, candidates and their trials
// (probe -> flash | skipped -> regular, study/candidate_book.hpp), the probe
// cache. The decisions of study/lifecycle.hpp and study/reprobe.hpp (probe ->
// flash | skipped, the end of exploration, selection for regular, the GLUE
// step, the end of finalizing; a trial's end, retry and cancellation, the
// re-probe series) come back as effects: apply() applies them, here only.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>
#include <chrono>
#include <variant>

#include "autodistill/daemon/log.hpp"
#include "autodistill/probe_choice.hpp"
#include "controller_state.hpp"
#include "study/suggestions.hpp"

namespace autodistill::daemon {

void Controller::refill(Study& s) {
  apply(s, study::refill(view_of(s), {explored(s), s.exhausted, s.wall_spent, s.suggesting},
                         s.parallelism, s.row.created_ms, now_()));
}

void Controller::ask_proposer(Study& s, size_t count) {
  s.suggesting = true;
  ++suggestions_in_flight_;
  auto seconds = std::make_shared<double>(0.0);
  SuggestJob job = [inner = s.proposer->prepare(count, cancel_suggestions_), seconds] {
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
  if (epoch != epoch_) return;  // the state was rebuilt meanwhile
  auto it = studies_.find(study_id);
  if (it == studies_.end()) return;
  Study& s = *it->second;
  apply(s, study::take_suggestions(view_of(s), explored(s), std::move(proposals)));
}

void Controller::add_candidate(Study& s, const Params& params) {
  const uint32_t candidate = s.book.propose();
  // A store write that failed fails the batch at commit (the state is then
  // rebuilt): the candidate is settled all the same.
  apply(s, study::first_trial(view_of(s), candidate, params));
  apply(s, study::settle_proposed(view_of(s), candidate, params));
}

void Controller::probe_candidate(Study& s, uint32_t candidate, const Params& params,
                                 const std::string& note) {
  if (std::map<std::string, double> cached; complete_from_cache(s, candidate, params, &cached)) {
    after_probe(s, candidate, params, cached);  // probe first: here from the cache
  } else {
    queue_trial(s, candidate, TrialKind::Probe, params, note);
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
  auto hit = probes_->lookup(s.spec.hardware_tag, params, serving_key(s.spec.settings_json),
                             objectives_for(s.spec, TrialKind::Probe));
  if (!hit) return false;
  TrialRow row;
  row.study_id = s.row.id;
  row.candidate = candidate;
  row.kind = TrialKind::Probe;
  row.state = TrialState::Completed;
  row.params = params;
  row.updated_ms = now_();
  row.id = store_.insert_trial(row);
  if (row.id == 0) return false;
  row.objectives = hit->objectives;
  row.metrics = std::move(hit->metrics);
  row.fingerprint = hit->fingerprint;
  row.progress = 1;
  store_.update_trial(row);
  s.book.fold(row);  // a probe that completed at once
  event(s, "trial_completed", row.id, 1,
        "cached measurement of trial " + std::to_string(hit->trial_id));
  s.proposer->observe(params, hit->objectives);
  *measured = std::move(hit->objectives);
  return true;
}

void Controller::finish_trial(Trial& t, TrialState state) {
  auto found = studies_.find(t.row.study_id);
  if (found == studies_.end()) return drop_orphan(t);
  Study& s = *found->second;
  apply(s, study::finish_trial(view_of(s), trial_view(t), state,
                               [&s, params = t.row.params] { return s.proposer->score(params); }));
}

void Controller::record_trial_end(Study& s, Trial& t, TrialState state) {
  const uint64_t id = t.row.id;
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
  trials_.erase(id);  // t is gone from here on
}

void Controller::requeue(Study& s, Trial& t, const std::string& reason) {
  LOG_INFO("trial " << t.row.id << " attempt " << t.row.attempt << ": " << reason
                    << "; re-queued as attempt " << t.row.attempt + 1);
  t.row.attempt++;
  t.row.state = TrialState::Queued;
  t.row.worker_id.clear();
  t.row.lease_expires_ms = 0;
  t.row.started_ms = 0;  // the next attempt starts when leased
  t.row.updated_ms = now_();
  t.progress = 0;
  t.ready_ms = t.row.updated_ms;
  store_.update_trial(t.row);
  s.ready[static_cast<int>(t.role)].push_front(t.row.id);
  event(s, "trial_requeued", t.row.id, t.row.attempt, reason);
}

study::TrialView Controller::trial_view(const Trial& t) const {
  study::TrialView v;
  v.id = t.row.id;
  v.candidate = t.row.candidate;
  v.kind = t.row.kind;
  v.state = t.row.state;
  v.attempt = t.row.attempt;
  v.gang = t.leases.gang();
  v.params = t.row.params;
  v.objectives = t.row.objectives;
  v.metrics = t.row.metrics;
  return v;
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
  return study::StudyView{s.spec, s.book, s.glue, s.has_baseline, s.state(), shutting_down_};
}

bool Controller::apply(Study& s, const study::Effects& effects) {
  struct Applier {
    Controller& c;
    Study& s;
    // The live trial an effect names; null when it ended meanwhile (a cascade).
    Trial* live(uint64_t id) {
      auto it = c.trials_.find(id);
      return it == c.trials_.end() ? nullptr : it->second.get();
    }
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
    bool operator()(const study::CancelRanks& e) {
      if (Trial* t = live(e.trial)) c.cancel_ranks(*t, e.reason, e.except);
      return true;
    }
    bool operator()(const study::ReleaseRanks& e) {
      if (Trial* t = live(e.trial)) c.release_ranks(*t);
      return true;
    }
    bool operator()(const study::RequeueTrial& e) {
      if (Trial* t = live(e.trial)) c.requeue(s, *t, e.reason);
      return true;
    }
    bool operator()(const study::FinishTrial& e) {
      Trial* t = live(e.trial);
      if (t == nullptr) return true;
      if (e.state == TrialState::Failed && !e.reason.empty()) {
        LOG_WARN("trial " << t->row.id << " failed after attempt " << t->row.attempt << ": "
                          << e.reason);
        if (t->row.error_message.empty()) {
          t->row.error_code = static_cast<int>(Code::kTrialError);
          t->row.error_message = e.reason;
        }
      }
      c.finish_trial(*t, e.state);
      return true;
    }
    bool operator()(const study::CancelTrial& e) {
      c.cancel_trials({e.trial}, e.reason);
      return true;
    }
    bool operator()(const study::RecordTrialEnd& e) {
      if (Trial* t = live(e.trial)) c.record_trial_end(s, *t, e.state);
      return true;
    }
    bool operator()(const study::ReviewProbes& e) {
      return c.review_probes(s, e.candidate, e.params);
    }
    bool operator()(const study::CloseInBook& e) {
      const study::Ended ended = s.book.ended(e.candidate, e.kind, e.state);
      return c.apply(s, study::after_close(e.kind, e.candidate, e.params, ended));
    }
    bool operator()(const study::CancelCandidate& e) {
      std::vector<uint64_t> siblings;
      for (auto& [id, other] : c.trials_) {
        if (other->row.study_id == s.row.id && other->row.candidate == e.candidate) {
          siblings.push_back(id);
        }
      }
      c.cancel_trials(siblings, e.reason);
      return true;
    }
    bool operator()(const study::SettleCandidate& e) {
      return c.apply(s, study::settle_candidate(c.view_of(s), e.candidate, e.params));
    }
    bool operator()(const study::ObserveFailure& e) {
      s.proposer->observe_failure(e.params);
      return true;
    }
    bool operator()(const study::FinishCandidate& e) {
      s.proposer->finish(e.params);
      return true;
    }
    bool operator()(const study::CandidateDone& e) {
      c.candidate_finished(s, e.candidate);
      return true;
    }
    bool operator()(const study::ReprobeQueued& e) {
      c.metrics_.reprobes++;
      // The QueueTrial before appended the re-probe to the probe queue.
      c.event(s, "reprobe_queued", s.ready[static_cast<int>(Role::Probe)].back(), 1, e.message);
      return true;
    }
    bool operator()(const study::SpendWallBudget& e) {
      s.wall_spent = true;
      c.event(s, "wall_budget_spent", 0, 0, e.message);
      LOG_INFO("study " << s.row.id << ": max_wall_seconds passed; exploration stops proposing");
      return true;
    }
    bool operator()(const study::AskProposer& e) {
      c.ask_proposer(s, e.count);
      return true;
    }
    bool operator()(const study::MarkExhausted& e) {
      s.exhausted = true;
      LOG_INFO("study " << s.row.id << ": the design space is exhausted after " << e.explored
                        << " candidates");
      return true;
    }
    bool operator()(const study::AddPending& e) {
      s.proposer->add_known(e.params);
      return true;
    }
    bool operator()(const study::AddCandidate& e) {
      c.add_candidate(s, e.params);
      return true;
    }
    bool operator()(const study::ProbeCandidate& e) {
      c.probe_candidate(s, e.candidate, e.params, e.note);
      return true;
    }
    bool operator()(const study::EndSuggestion&) {
      s.suggesting = false;
      return true;
    }
    bool operator()(const study::AdvanceStudy&) {
      c.maybe_advance(s);
      return true;
    }
    bool operator()(const study::MarkUnconverged& e) {
      c.store_.update_trial(e.row);
      c.metrics_.latency_unconverged++;
      c.event(s, "latency_unconverged", e.row.id, e.row.attempt, e.message);
      LOG_WARN("study " << s.row.id << " " << e.message);
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
  std::vector<uint64_t> live;
  for (auto& [id, t] : trials_) {
    if (t->row.study_id == s.row.id) live.push_back(id);
  }
  apply(s, study::cancel_study(reason, std::move(live)));
}

void Controller::cancel_trials(const std::vector<uint64_t>& ids, const std::string& reason) {
  for (uint64_t id : ids) {
    auto it = trials_.find(id);
    if (it == trials_.end()) continue;  // ended meanwhile (a cascade)
    Trial& t = *it->second;
    auto found = studies_.find(t.row.study_id);
    if (found == studies_.end()) {
      drop_orphan(t);
      continue;
    }
    apply(*found->second, study::cancel_trial(trial_view(t), reason));
  }
}

}  // namespace autodistill::daemon
