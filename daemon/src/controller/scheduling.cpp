// Scheduling: which queued trial goes to which worker, leases, re-queueing
// with the next attempt or failing after max_attempts.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>

#include "autodistill/daemon/log.hpp"
#include "autodistill/daemon/probe_handoff.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

void Controller::lease(Study& s, Trial& t, Worker& w) {
  t.row.state = TrialState::Leased;
  t.row.worker_id = w.worker_id;
  t.row.updated_ms = now_();
  t.row.started_ms = t.row.updated_ms;
  t.row.lease_expires_ms = t.row.updated_ms + config_.lease_ms;
  store_.update_trial(t.row);
  store_.record_lease(t.row.id, t.row.attempt, w.worker_id);
  metrics_.dispatch.observe(static_cast<double>(t.row.updated_ms - t.ready_ms) / 1000.0);
  w.credits--;
  w.leased.insert(t.row.id);
  event(s, "trial_leased", t.row.id, t.row.attempt, w.worker_id);

  wire::AssignT a;
  a.trial_id = t.row.id;
  a.attempt = t.row.attempt;
  a.study_id = s.row.id;
  a.kind = t.row.kind;
  a.lease_ms = config_.lease_ms;
  for (const auto& p : t.row.params) a.params.push_back(std::make_unique<wire::ParamValueT>(p));
  a.objectives = t.objectives;
  a.settings_json = s.spec.settings_json;
  if (a.kind == TrialKind::Regular) {
    // The worker writes the candidate's measured latency into the manifest.
    if (auto trials = store_.trials_of_study(s.row.id); trials) {
      if (auto probe = completed_probe(trials.value(), t.row.candidate)) {
        a.settings_json = settings_with_probe(a.settings_json, *probe);
      }
    }
  }
  if (a.kind == TrialKind::Finetune) {
    auto settings = finetune_settings(s, t);
    if (settings) {
      a.settings_json = std::move(settings.value());
    } else {
      LOG_WARN("trial " << t.row.id << ": " << settings.status().to_string());
    }
  }
  a.teacher_digest = s.spec.teacher_digest;
  a.corpus_digest = s.spec.corpus_digest;
  a.hardware_tag = s.spec.hardware_tag;
  a.resume = resume_of(t);
  send(Endpoint::kWorker, w.peer, wire::encode_message(0, std::move(a)));
}

void Controller::requeue_or_fail(Trial& t, const std::string& reason, bool retryable) {
  auto found = studies_.find(t.row.study_id);
  if (found == studies_.end()) return drop_orphan(t);
  Study& s = *found->second;
  if (Worker* holder = session_of(t.row.worker_id)) holder->leased.erase(t.row.id);
  const bool active = s.state() == StudyState::Exploring || s.state() == StudyState::Finalizing;
  if (retryable && active && t.row.attempt < s.max_attempts) {
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
    return;
  }
  LOG_WARN("trial " << t.row.id << " failed after attempt " << t.row.attempt << ": " << reason);
  if (t.row.error_message.empty()) {
    t.row.error_code = static_cast<int>(Code::kTrialError);
    t.row.error_message = reason;
  }
  finish_trial(t, TrialState::Failed);
}

void Controller::dispatch() {
  if (shutting_down_) return;
  const int64_t now = now_();
  for (auto& [peer, w] : workers_) {
    if (w->credits == 0 || quarantined(w->worker_id, now)) continue;
    while (w->credits > 0) {
      auto [s, t] = take_trial_for(*w, now);
      if (t == nullptr) break;
      lease(*s, *t, *w);
    }
  }
}

bool Controller::eligible(const Worker& w, uint64_t study_id, const Study& s) const {
  if (w.role == Role::External &&
      std::find(w.studies.begin(), w.studies.end(), study_id) == w.studies.end()) {
    return false;
  }
  return w.role != Role::Probe || s.spec.hardware_tag.empty() ||
         s.spec.hardware_tag == w.hardware.tag;
}

bool Controller::another_worker_for(const Worker& w, uint64_t study_id, const Study& s,
                                    const Trial& t, int64_t now) const {
  for (const auto& [peer, other] : workers_) {
    if (other.get() != &w && other->role == w.role && !t.expired_with.count(other->worker_id) &&
        !quarantined(other->worker_id, now) && eligible(*other, study_id, s)) {
      return true;
    }
  }
  return false;
}

std::pair<Controller::Study*, Controller::Trial*> Controller::take_trial_for(const Worker& w,
                                                                             int64_t now) {
  const int role = static_cast<int>(w.role);
  for (auto& [id, s] : studies_) {
    if (s->state() != StudyState::Exploring && s->state() != StudyState::Finalizing) {
      continue;
    }
    auto& queue = s->ready[role];
    if (queue.empty() || !eligible(w, id, *s)) continue;
    for (size_t i = 0; i < queue.size();) {
      auto t = trials_.find(queue[i]);
      if (t == trials_.end() || t->second->row.state != TrialState::Queued) {
        queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));  // stale
        continue;
      }
      // A re-probe waits out its backoff.
      if (t->second->not_before_ms > now) {
        ++i;
        continue;
      }
      // A trial whose lease this worker let expire goes to another worker
      // when one could take it.
      if (t->second->expired_with.count(w.worker_id) &&
          another_worker_for(w, id, *s, *t->second, now)) {
        ++i;
        continue;
      }
      queue.erase(queue.begin() + static_cast<std::ptrdiff_t>(i));
      return {s.get(), t->second.get()};
    }
  }
  return {nullptr, nullptr};
}

}  // namespace autodistill::daemon
