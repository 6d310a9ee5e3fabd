// Group commit: handlers queue replies and events; commit() makes the batch
// durable, then hands back what to send (or fails the whole batch).

#include "autodistill/daemon/controller.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "autodistill/daemon/log.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

wire::EventT event_message(const EventRow& row) {
  wire::EventT e;
  e.study_id = row.study_id;
  e.seq = row.seq;
  e.time_ms = row.time_ms;
  e.kind = row.kind;
  e.trial_id = row.trial_id;
  e.attempt = row.attempt;
  e.message = row.message;
  e.candidate = row.candidate;
  e.trial_kind = row.trial_kind;
  e.values = wire_metrics(row.values);
  e.duration_ms = row.duration_ms;
  return e;
}

void Controller::event(Study& s, const std::string& kind, uint64_t trial_id, uint32_t attempt,
                       const std::string& message) {
  EventRow row;
  row.study_id = s.row.id;
  row.seq = ++s.seq;
  row.time_ms = now_();
  row.kind = kind;
  row.trial_id = trial_id;
  row.attempt = attempt;
  row.message = message;
  if (trial_id != 0) describe_trial_event(row);
  store_.insert_event(row);
  if (!watchers_.count(s.row.id)) return;
  batch_events_[s.row.id].push_back(event_message(row));
}

void Controller::describe_trial_event(EventRow& e) {
  std::optional<TrialRow> stored;
  const TrialRow* t = nullptr;
  if (auto live = trials_.find(e.trial_id); live != trials_.end()) {
    t = &live->second->row;
  } else if (auto found = store_.get_trial(e.trial_id); found && found.value()) {
    stored = std::move(*found.value());  // ended at once (a cached probe, a skipped flash)
    t = &*stored;
  }
  if (t == nullptr) return;
  e.candidate = t->candidate;
  e.trial_kind = t->kind;
  const bool ended =
      e.kind == "trial_completed" || e.kind == "trial_failed" || e.kind == "trial_cancelled";
  if (ended && t->started_ms != 0) {
    e.duration_ms = std::max<int64_t>(0, e.time_ms - t->started_ms);
  }
  if (e.kind != "trial_completed") return;
  // The objectives, and the confidence interval of a measured latency.
  e.values = t->objectives;
  for (const char* name : {"median_ci_low_ms", "median_ci_high_ms"}) {
    if (auto m = t->metrics.find(name); m != t->metrics.end()) e.values[name] = m->second;
  }
}

void Controller::send(Endpoint ep, const std::string& peer, std::string bytes) {
  outbox_.push_back(Outbound{ep, peer, std::move(bytes)});
}

void Controller::reply_error(Endpoint ep, const std::string& peer, uint64_t rid,
                             const Status& status) {
  send(ep, peer, wire::encode_error(rid, status));
}

void Controller::note_request(Endpoint ep, const std::string& peer, uint64_t rid) {
  batch_requests_.push_back(PendingRequest{ep, peer, rid});
}

void Controller::flush_events() {
  for (auto& [study, events] : batch_events_) {
    auto w = watchers_.find(study);
    if (w == watchers_.end()) continue;
    const bool ended = ended_studies_.count(study) > 0;
    for (const Watcher& watcher : w->second) {
      uint64_t& seen = watcher_seq_[{study, watcher.peer}];
      wire::EventBatchT batch;
      for (const wire::EventT& e : events) {
        if (e.kind != "trial_progress" && e.seq <= seen) continue;
        batch.events.push_back(std::make_unique<wire::EventT>(e));
        if (e.kind != "trial_progress") seen = e.seq;
      }
      batch.end = ended;
      if (batch.events.empty() && !batch.end) continue;
      send(Endpoint::kClient, watcher.peer,
           wire::encode_message(watcher.request_id, std::move(batch)));
    }
  }
  // Watchers of studies that ended with no new events this batch.
  for (uint64_t study : ended_studies_) {
    if (batch_events_.count(study)) continue;
    auto w = watchers_.find(study);
    if (w == watchers_.end()) continue;
    for (const Watcher& watcher : w->second) {
      wire::EventBatchT batch;
      batch.end = true;
      send(Endpoint::kClient, watcher.peer,
           wire::encode_message(watcher.request_id, std::move(batch)));
    }
  }
  for (uint64_t study : ended_studies_) {
    if (auto w = watchers_.find(study); w != watchers_.end()) {
      for (const Watcher& watcher : w->second) watcher_seq_.erase({study, watcher.peer});
      watchers_.erase(w);
    }
    studies_.erase(study);
  }
  batch_events_.clear();
  ended_studies_.clear();
}

std::vector<Outbound> Controller::commit() {
  dispatch();
  const bool wrote = store_.has_pending_writes();
  const auto started = std::chrono::steady_clock::now();
  Status status = store_.commit();
  if (wrote) {
    metrics_.store_commit.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (!status) metrics_.commit_failures++;
  std::vector<Outbound> out;
  if (status) {
    flush_events();
    out.swap(outbox_);
    batch_requests_.clear();
    collect_blob_garbage();
    return out;
  }
  // Nothing of this batch happened: answer its requests with the error,
  // forget sessions (workers Hello again), and rebuild from the store.
  LOG_ERROR("commit failed, batch of " << batch_requests_.size()
                                       << " requests rolled back: " << status.to_string());
  for (const PendingRequest& r : batch_requests_) {
    out.push_back(Outbound{r.endpoint, r.peer, wire::encode_error(r.request_id, status)});
  }
  outbox_.clear();
  batch_requests_.clear();
  batch_events_.clear();
  ended_studies_.clear();
  watchers_.clear();
  watcher_seq_.clear();
  sessions_->clear();
  if (Status s = recover(); !s) LOG_ERROR("recovery after a failed commit: " << s.to_string());
  if (Status s = store_.commit(); !s) LOG_ERROR("commit after recovery: " << s.to_string());
  outbox_.clear();
  return out;
}

}  // namespace autodistill::daemon
