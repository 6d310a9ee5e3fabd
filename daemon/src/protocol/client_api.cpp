// The client API: submit (idempotency key), get, list, watch, cancel, list
// workers; visibility per CURVE owner.

#include "autodistill/daemon/controller.hpp"

#include <algorithm>

#include "autodistill/bounded_json.hpp"
#include "autodistill/daemon/log.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

Result<std::optional<wire::StudySpecT>> Controller::find_visible_spec(uint64_t id) {
  auto row = store_.get_study(id);
  if (!row) return row.status();
  if (!row.value() || !visible(*row.value())) return std::optional<wire::StudySpecT>();
  auto spec = unpack_spec(row.value()->spec);
  if (!spec) return spec.status();
  return std::optional<wire::StudySpecT>(std::move(spec.value()));
}

void Controller::on_submit(const std::string& peer, uint64_t rid, wire::SubmitT& submit) {
  note_request(Endpoint::kClient, peer, rid);
  auto fail = [&](Status s) { reply_error(Endpoint::kClient, peer, rid, s); };
  if (shutting_down_) return fail(Status(Code::kUnavailable, "daemon is shutting down"));
  if (!submit.spec) return fail(Status(Code::kInvalidArgument, "missing spec", "spec"));
  if (submit.idempotency_key.size() > 256) {
    return fail(Status(Code::kInvalidArgument, "longer than 256 characters", "idempotency_key"));
  }
  const std::string packed = pack_spec(*submit.spec);
  if (!submit.idempotency_key.empty()) {
    auto existing = store_.find_study_by_key(submit.idempotency_key);
    if (!existing) return fail(existing.status());
    if (existing.value()) {
      if (!visible(*existing.value())) {
        return fail(Status(Code::kAlreadyExists,
                           "idempotency key is used by another client's study", "idempotency_key"));
      }
      if (existing.value()->spec != packed) {
        return fail(Status(Code::kAlreadyExists,
                           "idempotency key already names study " +
                               std::to_string(existing.value()->id) + " with a different spec",
                           "idempotency_key"));
      }
      auto info = study_info(*existing.value(), nullptr);
      if (!info) return fail(info.status());
      wire::StudyReplyT reply;
      reply.study = std::make_unique<wire::StudyInfoT>(std::move(info.value()));
      reply.created = false;
      return send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
    }
  }
  if (studies_.size() >= config_.max_active_studies) {
    return fail(Status(Code::kResourceExhausted,
                       "the daemon already runs " + std::to_string(studies_.size()) +
                           " studies (max_active_studies); retry when one finishes",
                       "spec"));
  }
  Status valid = validate_spec(
      *submit.spec, config_, [this](const std::string& d) { return blobs_.contains(d); },
      [this](uint64_t id) { return find_visible_spec(id); });
  if (!valid) return fail(valid);

  StudyRow row;
  row.idempotency_key = submit.idempotency_key;
  row.spec = packed;
  row.state = StudyState::Queued;
  row.created_ms = row.updated_ms = now_();
  row.owner = caller_;
  row.id = store_.insert_study(row);
  if (row.id == 0) return;  // the store failed: commit() answers this request
  Study* s = load_study(row);
  if (s == nullptr) return;
  event(*s, "study_state", 0, 0, "Queued");
  set_study_state(*s, StudyState::Exploring, "");
  if (s->has_baseline) {
    // Candidate 0, outside the max_trials budget, evaluated first.
    Params baseline = baseline_params(s->spec);
    s->proposer->add_known(baseline);
    add_candidate(*s, std::move(baseline));
  }
  refill(*s);
  maybe_advance(*s);
  LOG_INFO("study " << row.id << " \"" << s->spec.name << "\" submitted ("
                    << wire::EnumNameStudyKind(s->spec.kind) << ", " << s->spec.max_trials
                    << " candidates)");
  auto info = study_info(s->row, nullptr);
  if (!info) return fail(info.status());
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>(std::move(info.value()));
  reply.created = true;
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_get(const std::string& peer, uint64_t rid, const wire::GetStudyT& get) {
  note_request(Endpoint::kClient, peer, rid);
  auto row = store_.get_study(get.study_id);
  if (!row) return reply_error(Endpoint::kClient, peer, rid, row.status());
  if (!row.value() || !visible(*row.value())) {
    return reply_error(
        Endpoint::kClient, peer, rid,
        Status(Code::kNotFound, "no study " + std::to_string(get.study_id), "study_id"));
  }
  auto trials = store_.trials_of_study(get.study_id);
  if (!trials) return reply_error(Endpoint::kClient, peer, rid, trials.status());
  auto info = study_info(*row.value(), &trials.value());
  if (!info) return reply_error(Endpoint::kClient, peer, rid, info.status());
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>(std::move(info.value()));
  if (get.include_trials) {
    for (const TrialRow& t : trials.value()) {
      reply.trials.push_back(std::make_unique<wire::TrialInfoT>(trial_info(t)));
    }
  }
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_list(const std::string& peer, uint64_t rid, const wire::ListStudiesT& list) {
  note_request(Endpoint::kClient, peer, rid);
  auto rows = store_.list_studies(list.limit);
  if (!rows) return reply_error(Endpoint::kClient, peer, rid, rows.status());
  wire::StudyListT reply;
  for (const StudyRow& row : rows.value()) {
    if (!visible(row)) continue;
    auto info = study_info(row, nullptr);
    if (!info) return reply_error(Endpoint::kClient, peer, rid, info.status());
    reply.studies.push_back(std::make_unique<wire::StudyInfoT>(std::move(info.value())));
  }
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_watch(const std::string& peer, uint64_t rid, const wire::WatchT& watch) {
  note_request(Endpoint::kClient, peer, rid);
  auto row = store_.get_study(watch.study_id);
  if (!row) return reply_error(Endpoint::kClient, peer, rid, row.status());
  if (!row.value() || !visible(*row.value())) {
    return reply_error(
        Endpoint::kClient, peer, rid,
        Status(Code::kNotFound, "no study " + std::to_string(watch.study_id), "study_id"));
  }
  uint64_t after = watch.after_seq;
  const bool terminal = is_terminal(row.value()->state) && !studies_.count(watch.study_id);
  while (true) {
    auto events = store_.events_after(watch.study_id, after, kReplayBatch);
    if (!events) return reply_error(Endpoint::kClient, peer, rid, events.status());
    wire::EventBatchT batch;
    for (const EventRow& e : events.value()) {
      after = e.seq;
      batch.events.push_back(std::make_unique<wire::EventT>(event_message(e)));
    }
    const bool last = events.value().size() < kReplayBatch;
    batch.end = last && terminal;
    if (!batch.events.empty() || batch.end) {
      send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(batch)));
    }
    if (last) break;
  }
  if (!terminal) {
    auto& list = watchers_[watch.study_id];
    list.erase(
        std::remove_if(list.begin(), list.end(), [&](const Watcher& w) { return w.peer == peer; }),
        list.end());
    list.push_back(Watcher{peer, rid});
    // Events of this batch not yet replayed are streamed by flush_events().
    watcher_seq_[{watch.study_id, peer}] = after;
  }
}

void Controller::on_cancel(const std::string& peer, uint64_t rid,
                           const wire::CancelStudyT& cancel) {
  note_request(Endpoint::kClient, peer, rid);
  auto it = studies_.find(cancel.study_id);
  if (it != studies_.end() && !visible(it->second->row)) it = studies_.end();
  if (it == studies_.end() || is_terminal(it->second->state())) {
    auto row = store_.get_study(cancel.study_id);
    if (!row) return reply_error(Endpoint::kClient, peer, rid, row.status());
    if (!row.value() || !visible(*row.value())) {
      return reply_error(
          Endpoint::kClient, peer, rid,
          Status(Code::kNotFound, "no study " + std::to_string(cancel.study_id), "study_id"));
    }
    return reply_error(
        Endpoint::kClient, peer, rid,
        Status(Code::kFailedPrecondition,
               std::string("study already ") + study_state_name(row.value()->state), "study_id"));
  }
  cancel_study(*it->second, cancel.reason.empty() ? "cancelled by client" : cancel.reason);
  auto info = study_info(it->second->row, nullptr);
  if (!info) return reply_error(Endpoint::kClient, peer, rid, info.status());
  wire::StudyReplyT reply;
  reply.study = std::make_unique<wire::StudyInfoT>(std::move(info.value()));
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

void Controller::on_list_workers(const std::string& peer, uint64_t rid) {
  note_request(Endpoint::kClient, peer, rid);
  auto rows = store_.list_workers();
  if (!rows) return reply_error(Endpoint::kClient, peer, rid, rows.status());
  wire::WorkerListT reply;
  for (const WorkerRow& row : rows.value()) {
    auto info = std::make_unique<wire::WorkerInfoT>();
    info->worker_id = row.worker_id;
    info->role = row.role;
    info->slots = row.slots;
    info->last_seen_ms = row.last_seen_ms;
    info->studies = row.studies;
    flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(row.hardware.data()),
                            row.hardware.size());
    if (v.VerifyBuffer<wire::Hardware>(nullptr)) {
      info->hardware = std::make_unique<wire::HardwareT>();
      flatbuffers::GetRoot<wire::Hardware>(row.hardware.data())->UnPackTo(info->hardware.get());
    }
    if (const Worker* w = sessions_->session_of(row.worker_id)) {
      info->connected = true;
      info->last_seen_ms = w->last_seen_ms;
      for (uint64_t id : w->leased) {
        auto ref = std::make_unique<wire::TrialRefT>();
        ref->trial_id = id;
        auto t = trials_.find(id);
        ref->attempt = t == trials_.end() ? 0 : t->second->row.attempt;
        info->running.push_back(std::move(ref));
      }
    }
    reply.workers.push_back(std::move(info));
  }
  send(Endpoint::kClient, peer, wire::encode_message(rid, std::move(reply)));
}

}  // namespace autodistill::daemon
