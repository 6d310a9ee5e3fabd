// Scheduling: which queued trial goes to which worker, leases, re-queueing
// with the next attempt or failing after max_attempts.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>
#include <array>
#include <map>

#include "autodistill/daemon/log.hpp"
#include "autodistill/daemon/probe_handoff.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

wire::AssignT Controller::assign_of(Study& s, Trial& t) {
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
  return a;
}

void Controller::lease(Study& s, Trial& t, const std::vector<Worker*>& ranks) {
  Worker& w = *ranks.front();
  t.row.state = TrialState::Leased;
  t.row.worker_id = w.worker_id;
  t.row.updated_ms = now_();
  t.row.started_ms = t.row.updated_ms;
  t.row.lease_expires_ms = t.row.updated_ms + config_.lease_ms;
  store_.update_trial(t.row);
  store_.record_lease(t.row.id, t.row.attempt, w.worker_id);
  metrics_.dispatch.observe(static_cast<double>(t.row.updated_ms - t.ready_ms) / 1000.0);
  std::vector<std::string> ids;
  for (const Worker* holder : ranks) ids.push_back(holder->worker_id);
  t.leases = study::Leases(ids, t.row.lease_expires_ms);
  std::string holders = w.worker_id;
  for (size_t r = 1; r < ranks.size(); ++r) holders += ", " + ranks[r]->worker_id;
  if (ranks.size() > 1) {
    for (size_t r = 0; r < ranks.size(); ++r) {
      store_.record_gang_rank(t.row.id, t.row.attempt, static_cast<uint32_t>(r),
                              ranks[r]->worker_id);
    }
  }
  event(s, "trial_leased", t.row.id, t.row.attempt, holders);
  for (size_t r = 0; r < ranks.size(); ++r) {
    Worker& holder = *ranks[r];
    holder.credits--;
    holder.leased.insert(t.row.id);
    wire::AssignT a = assign_of(s, t);
    if (ranks.size() > 1) {
      a.gang = std::make_unique<wire::GangT>();
      a.gang->rank = static_cast<uint32_t>(r);
      a.gang->world_size = static_cast<uint32_t>(ranks.size());
    }
    send(Endpoint::kWorker, holder.peer, wire::encode_message(0, std::move(a)));
  }
}

void Controller::release_ranks(Trial& t) {
  if (Worker* holder = sessions_->session_of(t.row.worker_id)) holder->leased.erase(t.row.id);
  for (const study::Leases::Lease& l : t.leases.all()) {
    if (Worker* holder = sessions_->session_of(l.worker_id)) holder->leased.erase(t.row.id);
  }
  t.leases = {};
}

void Controller::cancel_ranks(Trial& t, const std::string& reason, const std::string& except) {
  auto cancel = [&](const std::string& worker_id) {
    if (worker_id == except) return;
    if (const Worker* h = sessions_->session_of(worker_id)) {
      wire::CancelT c;
      c.trial_id = t.row.id;
      c.attempt = t.row.attempt;
      c.reason = reason;
      send(Endpoint::kWorker, h->peer, wire::encode_message(0, std::move(c)));
    }
  };
  cancel(t.row.worker_id);
  for (size_t r = 1; r < t.leases.all().size(); ++r) {
    if (t.leases.held(static_cast<int>(r))) cancel(t.leases.all()[r].worker_id);
  }
}

void Controller::requeue_or_fail(Trial& t, const std::string& reason, bool retryable,
                                 const std::string& ended_by) {
  auto found = studies_.find(t.row.study_id);
  if (found == studies_.end()) return drop_orphan(t);
  Study& s = *found->second;
  apply(s, study::requeue_or_fail(view_of(s), trial_view(t), s.max_attempts, reason, retryable,
                                  ended_by));
}

void Controller::dispatch() {
  if (shutting_down_) return;
  const int64_t now = now_();
  // The views of one turn (study/scheduler.hpp): every connected worker
  // (the scheduler asks whether another could take a trial), and the ready
  // queues of the roles some worker can take work of now.
  std::vector<study::WorkerView> workers;
  std::vector<Worker*> by_index;
  bool free_role[study::kRoles] = {};
  for (const auto& [peer, w] : sessions_->sessions()) {
    const bool quarantined = sessions_->quarantined(w->worker_id, now);
    const int role = static_cast<int>(w->role);
    if (w->credits > 0 && !quarantined && role >= 0 && role < study::kRoles) free_role[role] = true;
    workers.push_back(
        {w->worker_id, w->role, w->credits, w->hardware.tag, w->studies, quarantined});
    by_index.push_back(w.get());
  }
  if (std::none_of(std::begin(free_role), std::end(free_role), [](bool f) { return f; })) return;
  // Workers running each study's trials, by role (the scheduler's fair share).
  std::map<uint64_t, std::array<uint32_t, study::kRoles>> running;
  for (const auto& [id, t] : trials_) {
    const int role = static_cast<int>(t->role);
    if (t->row.state == TrialState::Leased && role >= 0 && role < study::kRoles) {
      running[t->row.study_id][role] += t->ranks;
    }
  }
  std::vector<study::StudyQueueView> studies;
  for (const auto& [id, s] : studies_) {
    if (s->state() != StudyState::Exploring && s->state() != StudyState::Finalizing) {
      continue;
    }
    study::StudyQueueView v;
    v.study_id = id;
    v.hardware_tag = s->spec.hardware_tag;
    if (auto r = running.find(id); r != running.end()) {
      std::copy(r->second.begin(), r->second.end(), std::begin(v.running));
    }
    for (int role = 0; role < study::kRoles; ++role) {
      if (!free_role[role]) continue;
      for (uint64_t trial_id : s->ready[role]) {
        study::QueuedTrialView q;
        q.trial_id = trial_id;
        auto t = trials_.find(trial_id);
        if (t == trials_.end() || t->second->row.state != TrialState::Queued) {
          q.queued = false;
        } else {
          q.not_before_ms = t->second->not_before_ms;
          q.ranks = t->second->ranks;
          if (!t->second->expired_with.empty()) q.expired_with = &t->second->expired_with;
        }
        v.ready[role].push_back(q);
      }
    }
    studies.push_back(std::move(v));
  }
  study::Plan plan = study::schedule(studies, workers, now);
  for (const study::QueueEntry& e : plan.dequeued) {
    auto& queue = studies_.at(e.study_id)->ready[e.role];
    if (auto it = std::find(queue.begin(), queue.end(), e.trial_id); it != queue.end()) {
      queue.erase(it);
    }
  }
  for (const study::Assignment& a : plan.assignments) {
    std::vector<Worker*> ranks;
    for (size_t i : a.workers) ranks.push_back(by_index.at(i));
    lease(*studies_.at(a.study_id), *trials_.at(a.trial_id), ranks);
  }
}

}  // namespace autodistill::daemon
