// The scheduler (scheduler.hpp): one dispatch turn, as data.

#include "study/scheduler.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <map>
#include <unordered_set>

namespace autodistill::daemon::study {

bool eligible(const WorkerView& w, const StudyQueueView& s) {
  if (w.role == wire::Role::External &&
      std::find(w.studies.begin(), w.studies.end(), s.study_id) == w.studies.end()) {
    return false;
  }
  return w.role != wire::Role::Probe || s.hardware_tag.empty() || s.hardware_tag == w.hardware_tag;
}

namespace {

bool expired_with(const QueuedTrialView& t, const WorkerView& w) {
  return t.expired_with != nullptr && t.expired_with->count(w.worker_id) > 0;
}

class Turn {
 public:
  Turn(const std::vector<StudyQueueView>& studies, const std::vector<WorkerView>& workers,
       int64_t now)
      : studies_(studies),
        workers_(workers),
        now_(now),
        credits_(workers.size()),
        held_(workers.size()),
        running_(studies.size()) {
    for (size_t i = 0; i < workers.size(); ++i) credits_[i] = workers[i].credits;
    for (size_t k = 0; k < studies.size(); ++k) {
      std::copy(std::begin(studies[k].running), std::end(studies[k].running), running_[k].begin());
    }
  }

  Plan run() {
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i].quarantined) continue;
      while (free_credits(i) > 0 && take(i)) {
      }
    }
    return std::move(plan_);
  }

 private:
  uint32_t free_credits(size_t i) const { return credits_[i] - held_[i]; }

  // Another connected worker than `i` could run `t` (it did not let its
  // lease of `t` expire), with or without credit now.
  bool another_worker_for(size_t i, const StudyQueueView& s, const QueuedTrialView& t) const {
    for (size_t j = 0; j < workers_.size(); ++j) {
      const WorkerView& o = workers_[j];
      if (j != i && o.role == workers_[i].role && !expired_with(t, o) && !o.quarantined &&
          eligible(o, s)) {
        return true;
      }
    }
    return false;
  }

  // The studies by how many trials of `role` they run (fewest first), ties
  // in the order given.
  std::vector<size_t> by_share(int role) const {
    std::vector<size_t> order(studies_.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return running_[a][role] < running_[b][role]; });
    return order;
  }

  void dequeue(const StudyQueueView& s, int role, uint64_t trial_id) {
    if (gone_.insert(trial_id).second) plan_.dequeued.push_back({s.study_id, role, trial_id});
  }

  // The next trial for worker `i`: leased (its assignment planned), or a
  // gang reserved; false when the worker is done for this turn.
  bool take(size_t i) {
    const WorkerView& w = workers_[i];
    const int role = static_cast<int>(w.role);
    if (role < 0 || role >= kRoles) return false;
    for (size_t k : by_share(role)) {
      const StudyQueueView& s = studies_[k];
      if (!s.active || s.ready[role].empty() || !eligible(w, s)) continue;
      for (const QueuedTrialView& t : s.ready[role]) {
        if (gone_.count(t.trial_id)) continue;
        if (!t.queued) {
          dequeue(s, role, t.trial_id);  // stale
          continue;
        }
        if (t.not_before_ms > now_) continue;  // a re-probe's backoff
        if (t.ranks > 1) {
          if (reserved_[t.trial_id].count(i)) continue;  // already holds a credit for it
          if (form_gang(i, s, role, t)) {
            running_[k][role] += t.ranks;
            return true;
          }
          if (free_credits(i) == 0) return false;  // its credit waits for the gang
          continue;
        }
        // A trial whose lease this worker let expire goes to another worker
        // when one could take it.
        if (expired_with(t, w) && another_worker_for(i, s, t)) continue;
        dequeue(s, role, t.trial_id);
        plan_.assignments.push_back({s.study_id, t.trial_id, {i}});
        credits_[i]--;
        running_[k][role]++;
        return true;
      }
    }
    return false;
  }

  // Forms the gang of `t` when enough workers are free (planned, true), or
  // reserves a credit of each free eligible worker for it (up to its ranks).
  bool form_gang(size_t i, const StudyQueueView& s, int role, const QueuedTrialView& t) {
    std::set<size_t>& reserved = reserved_[t.trial_id];
    std::vector<size_t> fresh, expired;  // candidates; `i` first, then in order
    auto consider = [&](size_t j) {
      const WorkerView& o = workers_[j];
      if (static_cast<int>(o.role) != role || o.quarantined || !eligible(o, s)) return;
      if (!reserved.count(j) && free_credits(j) == 0) return;
      (expired_with(t, o) ? expired : fresh).push_back(j);
    };
    consider(i);
    for (size_t j = 0; j < workers_.size(); ++j) {
      if (j != i) consider(j);
    }
    fresh.insert(fresh.end(), expired.begin(), expired.end());
    if (fresh.size() >= t.ranks) {
      fresh.resize(t.ranks);
      for (size_t j : fresh) {
        if (reserved.count(j)) held_[j]--;
        credits_[j]--;
      }
      reserved_.erase(t.trial_id);
      dequeue(s, role, t.trial_id);
      plan_.assignments.push_back({s.study_id, t.trial_id, std::move(fresh)});
      return true;
    }
    // Reserve only when the connected fleet could ever form it: otherwise
    // the gang waits without holding up other trials.
    size_t able = 0;
    for (const WorkerView& o : workers_) {
      if (static_cast<int>(o.role) == role && !o.quarantined && eligible(o, s)) ++able;
    }
    if (able < t.ranks) return false;
    for (size_t j : fresh) {
      if (reserved.size() >= t.ranks) break;
      if (reserved.insert(j).second) held_[j]++;
    }
    return false;
  }

  const std::vector<StudyQueueView>& studies_;
  const std::vector<WorkerView>& workers_;
  const int64_t now_;
  std::vector<uint32_t> credits_;  // left in this turn
  std::vector<uint32_t> held_;     // of those, kept for gangs that could not form yet
  std::vector<std::array<uint32_t, kRoles>> running_;  // by study: running + assigned this turn
  std::map<uint64_t, std::set<size_t>> reserved_;      // gang trial -> workers holding a credit
  std::unordered_set<uint64_t> gone_;                  // dequeued in this turn
  Plan plan_;
};

}  // namespace

Plan schedule(const std::vector<StudyQueueView>& studies, const std::vector<WorkerView>& workers,
              int64_t now) {
  return Turn(studies, workers, now).run();
}

}  // namespace autodistill::daemon::study
