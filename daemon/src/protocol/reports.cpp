// A worker's Result or Failure: counted only from the lease holder (or the
// holder of that earlier attempt), checked (objectives, artifacts), recorded
// idempotently by (trial, attempt).

#include "autodistill/daemon/controller.hpp"

#include <nlohmann/json.hpp>
#include <optional>

#include "autodistill/daemon/artifact_check.hpp"
#include "autodistill/daemon/log.hpp"
#include "controller_state.hpp"
#include "study/result_check.hpp"

namespace autodistill::daemon {

Status Controller::may_report(const Worker& w, uint64_t trial_id, uint32_t attempt, int rank) {
  const std::string what =
      "trial " + std::to_string(trial_id) + " attempt " + std::to_string(attempt);
  TrialKind trial_kind = TrialKind::Probe;
  auto live = trials_.find(trial_id);
  if (live != trials_.end()) {
    trial_kind = live->second->row.kind;
  } else {
    auto row = store_.get_trial(trial_id);
    if (!row) return row.status();
    if (!row.value()) {
      return Status(Code::kNotFound, "no trial " + std::to_string(trial_id), "trial_id");
    }
    trial_kind = row.value()->kind;
  }
  if (role_of(trial_kind) != w.role) {
    return Status(Code::kPermissionDenied,
                  std::string("a ") + wire::EnumNameRole(w.role) + " worker cannot report " + what +
                      ", a " + wire::EnumNameTrialKind(trial_kind) + " trial",
                  "trial_id");
  }
  // The session holding the current attempt's lease (of that rank of a gang).
  if (live != trials_.end() && attempt == live->second->row.attempt) {
    const int held = live->second->rank_of(w.worker_id);
    if (held >= 0 && (rank < 0 || held == rank)) return Status::ok();
    if (held >= 0) {
      return Status(Code::kPermissionDenied,
                    "worker \"" + w.worker_id + "\" holds rank " + std::to_string(held) + " of " +
                        what + ", not rank " + std::to_string(rank),
                    "rank");
    }
  }
  // The worker that held that (earlier) attempt: a late report.
  if (live == trials_.end() || attempt < live->second->row.attempt) {
    auto holder = store_.lease_holder(trial_id, attempt);
    if (!holder) return holder.status();
    if (rank <= 0 && holder.value() && *holder.value() == w.worker_id) return Status::ok();
    // ... or one of its gang's other ranks.
    if (rank != 0) {
      auto ranks = store_.gang_ranks(trial_id, attempt);
      if (!ranks) return ranks.status();
      for (const GangRankRow& r : ranks.value()) {
        if (r.rank > 0 && r.worker_id == w.worker_id && (rank < 0 || r.rank == uint32_t(rank))) {
          return Status::ok();
        }
      }
    }
    return Status(Code::kPermissionDenied,
                  what + " was " +
                      (holder.value() ? "leased to another worker" : std::string("never leased")) +
                      ", not to \"" + w.worker_id + "\"",
                  "attempt");
  }
  return Status(Code::kPermissionDenied,
                what + " is not leased to \"" + w.worker_id + "\"" +
                    (attempt > live->second->row.attempt ? " (that attempt was never leased)" : ""),
                "attempt");
}

void Controller::refuse_report(const Worker& w, uint64_t rid, const char* what, const Status& why) {
  metrics_.reports_refused++;
  LOG_WARN("refused a " << what << " from worker \"" << w.worker_id << "\": " << why.to_string());
  reply_error(Endpoint::kWorker, w.peer, rid, why);
}

void Controller::on_result(Worker& w, uint64_t rid, const wire::ResultT& result) {
  const std::string peer = w.peer;
  note_request(Endpoint::kWorker, peer, rid);
  if (result.rank >= kMaxRegularRanks) {
    return refuse_report(
        w, rid, "result",
        Status(Code::kInvalidArgument, "rank " + std::to_string(result.rank) + " is out of range",
               "rank"));
  }
  if (Status allowed =
          may_report(w, result.trial_id, result.attempt, static_cast<int>(result.rank));
      !allowed) {
    return refuse_report(w, rid, "result", allowed);
  }
  auto ack = [&] {
    wire::AckT a;
    a.trial_id = result.trial_id;
    a.attempt = result.attempt;
    send(Endpoint::kWorker, peer, wire::encode_message(rid, std::move(a)));
  };
  // The worker delivers again: its run of lease expiries is over.
  sessions_->delivered(w.worker_id);
  if (result.rank > 0) {
    // A gang rank other than 0 finished: not the trial's result (it has no
    // objectives on purpose). Its lease ends; a late one is only acknowledged.
    auto live = trials_.find(result.trial_id);
    if (live != trials_.end() && live->second->row.attempt == result.attempt &&
        live->second->rank_of(w.worker_id) == static_cast<int>(result.rank)) {
      Trial& t = *live->second;
      if (t.leases.end(static_cast<int>(result.rank))) {
        store_.gang_rank_done(t.row.id, t.row.attempt, result.rank);
        w.leased.erase(t.row.id);
        LOG_INFO("trial " << t.row.id << " attempt " << t.row.attempt << ": rank " << result.rank
                          << " (worker \"" << w.worker_id << "\") finished");
      }
    }
    return ack();
  }
  nlohmann::json payload = {{"objectives", values_of(result.objectives)},
                            {"metrics", values_of(result.metrics)},
                            {"fingerprint", result.hardware_fingerprint},
                            {"elapsed_ms", result.elapsed_ms}};
  auto it = trials_.find(result.trial_id);
  if (it == trials_.end()) {
    // Finished or cancelled: kept for the record (once), not counted; the
    // worker held that attempt (may_report), so its outbox may drain.
    store_.insert_result(result.trial_id, result.attempt, "late_result", payload.dump(), now_());
    return ack();
  }
  Trial& t = *it->second;
  if (!store_.insert_result(t.row.id, result.attempt, "result", payload.dump(), now_())) {
    return ack();  // already recorded: a redelivery
  }
  metrics_.results++;
  // A late result from an earlier attempt still counts (once): stop the
  // attempt that is running now.
  if (auto s = studies_.find(t.row.study_id); s != studies_.end()) {
    apply(*s->second, study::stale_result(trial_view(t), result.attempt));
  }
  const Values objectives = values_of(result.objectives);
  auto s = studies_.find(t.row.study_id);
  study::ResultTrialView view{t.row.kind, t.objectives,
                              s != studies_.end() ? &s->second->spec : nullptr};
  study::ResultFields fields{objectives, values_of(result.metrics), {}};
  for (const auto& a : result.artifacts) {
    if (!a) continue;
    auto size = blobs_.size_of(a->digest);
    fields.artifacts.push_back({a->name, a->digest, a->size,
                                size ? std::optional<uint64_t>(size.value()) : std::nullopt,
                                blobs_.path_of(a->digest)});
  }
  auto checked = study::check_result(view, fields);
  // What a Regular trial delivers is the study's student: checked last.
  Status problem =
      checked ? check_student_artifacts(checked.value().student_files) : checked.status();
  if (!problem) {
    LOG_WARN("trial " << t.row.id << " attempt " << result.attempt << " from worker \""
                      << w.worker_id << "\": " << problem.to_string());
    t.row.error_code = static_cast<int>(problem.code());
    t.row.error_message = problem.message();
    t.row.error_field = problem.field();
    finish_trial(t, TrialState::Failed);
    return ack();
  }
  t.row.attempt = result.attempt;
  t.row.objectives = std::move(checked.value().objectives);
  t.row.metrics = std::move(checked.value().metrics);
  t.row.artifacts = blob_refs_of(result.artifacts);
  t.row.fingerprint = result.hardware_fingerprint;
  t.progress = 1;
  if (s != studies_.end() && t.row.kind != TrialKind::Finetune) {
    s->second->proposer->observe(t.row.params, objectives);
    // Only a converged measurement is reused by other studies.
    if (t.row.kind == TrialKind::Probe) {
      probes_->record(t.row, serving_key(s->second->spec.settings_json), now_());
    }
  }
  finish_trial(t, TrialState::Completed);
  ack();
}

void Controller::on_failure(Worker& w, uint64_t rid, const wire::FailureT& failure) {
  const std::string peer = w.peer;
  note_request(Endpoint::kWorker, peer, rid);
  if (Status allowed = may_report(w, failure.trial_id, failure.attempt); !allowed) {
    return refuse_report(w, rid, "failure", allowed);
  }
  Status error = wire::from_wire(failure.error.get());
  nlohmann::json payload = {{"code", static_cast<int>(error.code())},
                            {"message", error.message()},
                            {"field", error.field()},
                            {"retryable", failure.retryable}};
  bool fresh =
      store_.insert_result(failure.trial_id, failure.attempt, "failure", payload.dump(), now_());
  auto it = trials_.find(failure.trial_id);
  if (fresh && it != trials_.end() && it->second->row.attempt == failure.attempt) {
    Trial& t = *it->second;
    t.row.error_code = static_cast<int>(error.code());
    t.row.error_message = error.message();
    t.row.error_field = error.field();
    requeue_or_fail(t, "worker reported: " + error.to_string(), failure.retryable, w.worker_id);
  }
  wire::AckT a;
  a.trial_id = failure.trial_id;
  a.attempt = failure.attempt;
  send(Endpoint::kWorker, peer, wire::encode_message(rid, std::move(a)));
}

}  // namespace autodistill::daemon
